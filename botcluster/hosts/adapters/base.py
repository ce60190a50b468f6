"""What every host adapter does: read state, load and unload models, and chat.

Adapters own all I/O with one host. They translate every foreign error at this boundary:
connection failures and timeouts become `HostDown` (the dispatcher's circuit breaker keys on
it), an out-of-memory load `OutOfMemory`, an over-long prompt `ContextOverflow`, anything else
the host answers badly `GenerationError` / `ModelLoadError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletion

from botcluster.config.model import HostConfig
from botcluster.core.cluster import HostReport
from botcluster.errors import (
    ContextOverflow,
    GenerationError,
    HostDown,
    HostError,
    HostTimeout,
    OutOfMemory,
)

log = logging.getLogger(__name__)

GB = 1e9
# How LM Studio and llama.cpp say a model does not fit.
OOM_MARKERS = ("insufficient system resources", "out of memory", "not enough memory")


@dataclass(frozen=True)
class Timeouts:
    """Per phase. `first_token_s` must cover a cold model load (minutes on large models)."""

    connect_s: float = 5.0
    first_token_s: float = 300.0
    total_s: float = 600.0
    state_s: float = 5.0


@dataclass(frozen=True)
class ChatResult:
    text: str
    completion_tokens: int = 0
    prompt_tokens: int = 0


class HostAdapter:
    """Base adapter: an OpenAI-compatible chat endpoint plus kind-specific state and loads."""

    kind = "openai"
    can_load = False  # explicit load/unload through the host's API

    def __init__(self, host: HostConfig, *, api_key: str | None = None,
                 timeouts: Timeouts | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 chat_transport: Any = None) -> None:
        self.host = host
        self.timeouts = timeouts or Timeouts()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=host.url.rstrip("/"), headers=headers, transport=transport,
            timeout=httpx.Timeout(self.timeouts.state_s, connect=self.timeouts.connect_s))
        # `chat_transport`: a transport of the HTTP package the installed openai uses (httpx
        # before openai 3, httpx2 from 3 on).
        chat_http = (openai.DefaultAsyncHttpxClient(transport=chat_transport)
                     if chat_transport is not None else None)
        self.openai = openai.AsyncOpenAI(
            base_url=host.url.rstrip("/") + "/v1", api_key=api_key or "not-needed",
            max_retries=0, http_client=chat_http,
            timeout=openai.Timeout(self.timeouts.total_s, connect=self.timeouts.connect_s,
                                   read=self.timeouts.first_token_s))
        self._reverse = {v: k for k, v in host.name_map.items()}

    # --- names ----------------------------------------------------------------------------

    def to_host(self, model: str) -> str:
        return self.host.host_model_name(model)

    def from_host(self, name: str) -> str:
        return self._reverse.get(name, name)

    # --- state ----------------------------------------------------------------------------

    async def state(self) -> HostReport:
        """Served models from `/v1/models`; an OpenAI-compatible host has them all loaded."""
        data = await self.get_json("/v1/models")
        names = [self.from_host(str(m.get("id"))) for m in data.get("data", [])
                 if isinstance(m, Mapping)]
        return HostReport(host=self.host.name, up=True, loaded=dict.fromkeys(names, 0))

    async def load(self, model: str) -> int:
        """Load `model`; returns its loaded context length (0 if unknown)."""
        return 0

    async def unload(self, model: str) -> None:
        return None

    # --- chat -----------------------------------------------------------------------------

    async def chat(self, model: str, messages: list[dict[str, str]],
                   params: Mapping[str, Any]) -> ChatResult:
        try:
            # **params hides the `stream=False` overload from the type checker.
            resp = cast(ChatCompletion, await self.openai.chat.completions.create(
                model=self.to_host(model), messages=messages,  # type: ignore[arg-type]
                stream=False, **params))
        except openai.APITimeoutError as exc:
            raise HostTimeout(self.host.name, "no answer within the timeout") from exc
        except openai.APIConnectionError as exc:
            raise HostDown(self.host.name, f"{type(exc).__name__}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        try:
            text = resp.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError) as exc:
            raise GenerationError(self.host.name, f"unusable completion: {exc}") from exc
        usage = resp.usage
        return ChatResult(text=text,
                          completion_tokens=usage.completion_tokens if usage else 0,
                          prompt_tokens=usage.prompt_tokens if usage else 0)

    def _status_error(self, exc: openai.APIStatusError) -> HostError:
        detail = f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
        low = detail.lower()
        if any(marker in low for marker in OOM_MARKERS):
            return OutOfMemory(self.host.name, detail)
        if exc.status_code == 400 and ("context" in low or "too long" in low or "exceed" in low):
            return ContextOverflow(self.host.name, detail)
        return GenerationError(self.host.name, detail)

    # --- plumbing ---------------------------------------------------------------------------

    async def get_json(self, path: str) -> dict[str, Any]:
        return await self.request_json("GET", path)

    async def request_json(self, method: str, path: str, body: object | None = None,
                           limit_s: float | None = None) -> dict[str, Any]:
        """One HTTP call returning a JSON object; connection trouble is `HostDown`."""
        try:
            r = await self.http.request(method, path, json=body,
                                        timeout=limit_s or httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException as exc:
            raise HostTimeout(self.host.name, f"{method} {path}: no answer in time") from exc
        except httpx.TransportError as exc:
            raise HostDown(self.host.name, f"{method} {path}: {type(exc).__name__}") from exc
        if r.status_code >= 400:
            raise HostStatus(self.host.name, r.status_code, r.text[:500])
        try:
            data = r.json()
        except ValueError as exc:
            raise GenerationError(self.host.name, f"{path}: not JSON") from exc
        if isinstance(data, list):
            return {"data": data}
        if not isinstance(data, dict):
            raise GenerationError(self.host.name, f"{path}: unexpected JSON")
        return data

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.openai.close()


class HostStatus(HostError):
    """The host answered with an HTTP error status."""

    def __init__(self, host: str, status: int, body: str) -> None:
        self.status = status
        self.body = body
        super().__init__(host, f"HTTP {status}: {body[:200]}")
