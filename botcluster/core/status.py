"""`botcluster status`: the running bot's hosts and queue, from its `/status` endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from botcluster.config.model import Config

Echo = Callable[[str], None]


def show_status(config: Config, *, as_json: bool, watch: bool, echo: Echo) -> int:
    url = f"http://{config.metrics.host}:{config.metrics.port}/status"
    while True:
        try:
            data = httpx.get(url, timeout=3.0).json()
        except (httpx.HTTPError, ValueError) as exc:
            echo(f"no running bot answers at {url}: {exc}")
            return 1
        echo(json.dumps(data, indent=2) if as_json else render(data))
        if not watch:
            return 0
        try:
            time.sleep(2.0)
        except KeyboardInterrupt:
            return 0


def render(data: dict[str, Any]) -> str:
    rows = [f"{'host':<16} {'up':<4} {'slots':<7} {'memory GB':<12} loaded"]
    for name, h in sorted(data.get("hosts", {}).items()):
        mem = f"{h['memory_used_gb']:.0f}/{h['memory_gb']:.0f}" if h.get("memory_gb") else "-"
        loaded = ", ".join(sorted(h["loaded"])) or "-"
        if h.get("loading"):
            since = h.get("loading_since", {})
            loaded += " (loading " + ", ".join(
                f"{m} for {data.get('time', 0) - since[m]:.0f}s" if m in since else m
                for m in h["loading"]) + ")"
        rows.append(f"{name:<16} {'yes' if h['up'] else 'DOWN':<4} "
                    f"{h['inflight']}/{h['slots']:<5} {mem:<12} {loaded}")
    q = data.get("queue", {})
    oldest = data.get("oldest")
    age = f"{time.time() - oldest:.0f}s" if oldest else "-"
    rows.append("")
    rows.append(f"queue: {q.get('ready', 0)} ready, {q.get('deferred', 0)} deferred, "
                f"{q.get('claimed', 0)} claimed; oldest waiting {age}; "
                f"{data.get('heal_pending', 0)} replies awaiting visibility; "
                f"{data.get('workers_alive', 0)} workers alive")
    return "\n".join(rows)
