"""The `litellm` strategy: the real LiteLLM Router with `least-busy` routing.

One deployment per (host, model) the host's catalogue has, all under the model's name, so the
router picks among the hosts that can serve the request the one with the fewest requests in
flight. LiteLLM is the optional `bench` extra; without it the strategy is skipped.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any

from botcluster.bench.drivers import Run, chat_body, run_concurrent
from botcluster.bench.workload import Request

log = logging.getLogger(__name__)

INSTALL = "pip install 'botcluster[bench]'  (or: pip install litellm)"


def available() -> bool:
    return importlib.util.find_spec("litellm") is not None


def import_litellm() -> Any:
    """Import LiteLLM with its model price map read from the package, not fetched."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    logging.getLogger("LiteLLM Router").setLevel(logging.WARNING)
    return litellm


def model_list(run: Run) -> list[dict[str, Any]]:
    """One deployment per host and model of the cluster."""
    timeout = max(30.0, 3600.0 * run.time_scale)
    return [{"model_name": m.key, "model_info": {"id": f"{h.name}/{m.key}"},
             "litellm_params": {"model": f"openai/{m.key}", "api_base": run.urls[h.name] + "/v1",
                                "api_key": "not-needed", "timeout": timeout}}
            for h in run.cluster.hosts for m in h.models]


async def run_litellm(run: Run) -> None:
    litellm = import_litellm()
    router = litellm.Router(model_list=model_list(run), routing_strategy="least-busy",
                            num_retries=0, set_verbose=False)

    async def send(r: Request) -> None:
        body = chat_body(r)
        await router.acompletion(model=body["model"], messages=body["messages"],
                                 max_tokens=body["max_tokens"])

    await run_concurrent(run, send)
