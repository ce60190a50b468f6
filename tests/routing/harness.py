"""Routing tests' harness: simulated LM Studio hosts described per test, the real bot as a
process, and readers for what happened (the simulator's stats, the bot's /metrics, the board).
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.procs import botcluster_cmd, stop, wait_http
from tests.support.simbot import SimBot
from tests.support.site import post_human, replies_to, visible, wait_for


@dataclass(frozen=True)
class Model:
    """A model in a simulated host's catalogue."""

    key: str
    loaded: bool = False
    size_gb: float = 4.0
    context_length: int = 8192


@dataclass(frozen=True)
class Host:
    """One simulated LM Studio host. JIT and auto-evict are off, so every load and every
    eviction on it is one the bot asked for explicitly."""

    name: str
    models: tuple[Model, ...]
    memory_gb: float = 64.0
    slots: int = 2  # config.parallel of each instance (and predictions per host by default)
    host_slots: int | None = None  # concurrent predictions on the whole host (None: `slots`)
    load_gb_per_s: float = 2.0
    tokens_per_s: float = 50.0
    options: dict[str, Any] = field(default_factory=dict)


def cluster_text(*hosts: Host) -> str:
    """The simulator's cluster file (docs/SIMULATOR.md) for `hosts`, in real time."""
    text = "seed = 1\ntime_scale = 1.0\n"
    for h in hosts:
        models = ", ".join(
            f'{{ key = "{m.key}", size_gb = {m.size_gb}, context_length = {m.context_length}, '
            f'loaded = {str(m.loaded).lower()} }}' for m in h.models)
        options = {"jit": False, "auto_evict": False, **h.options}
        extra = "".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}\n"
                        for k, v in options.items())
        text += f"""
[[hosts]]
name = "{h.name}"
port = 0
flavour = "lmstudio"
memory_gb = {h.memory_gb}
slots_per_model = {h.slots}
slots_per_host = {h.host_slots or h.slots}
load_gb_per_s = {h.load_gb_per_s}
ttft_s = 0.05
tokens_per_s = {h.tokens_per_s}
{extra}models = [{models}]
"""
    return text


@contextlib.contextmanager
def bot_running(bot: SimBot, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`botcluster start` until the block ends; it must then stop cleanly (exit 0)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(botcluster_cmd("start", "--config", str(bot.config)),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(bot.metrics_url + "/readyz", timeout=60, proc=proc)
        yield proc
    except BaseException:
        stop(proc)
        raise
    code = stop(proc)
    assert code == 0, f"bot exited with {code}; log:\n{log.read_text(errors='replace')[-4000:]}"


# --- what happened ------------------------------------------------------------------------


def sim_stats(url: str) -> dict[str, Any]:
    """The simulated host's own counters (GET /sim/stats)."""
    data: dict[str, Any] = httpx.get(url + "/sim/stats", timeout=5).json()
    return data


def sim_loaded(url: str) -> set[str]:
    """Keys of the models loaded on a simulated host now (its /api/v1/models)."""
    models = httpx.get(url + "/api/v1/models", timeout=5).json()["models"]
    return {m["key"] for m in models if m["loaded_instances"]}


def metric(bot: SimBot, name: str, **labels: str) -> float:
    """Sum of the samples of `name` (full sample name, e.g. `..._total`) matching `labels`."""
    text = httpx.get(bot.metrics_url + "/metrics", timeout=5).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def post(bot: SimBot, tag: str, entity: str, text: str = "hello there",
         context: list[str] | None = None) -> str:
    """Post one human message addressed to `entity`; returns its id."""
    mid = f"{int(time.time() * 1000)}-{tag}"
    post_human(bot.board_url, mid, text, entity, context=context if context is not None else [])
    return mid


def has_reply(bot: SimBot, mid: str) -> bool:
    return bool(replies_to(visible(bot.board_url), mid))


def exactly_one_reply_each(bot: SimBot, ids: list[str], timeout: float = 60) -> None:
    """Wait until every message has a visible reply, then check none has two."""
    wait_for(lambda: all(replies_to(visible(bot.board_url), m) for m in ids), timeout=timeout,
             interval=0.2)
    time.sleep(1.0)  # a few more polls: a second answer would show now
    msgs = visible(bot.board_url)
    assert {m: len(replies_to(msgs, m)) for m in ids} == dict.fromkeys(ids, 1)
