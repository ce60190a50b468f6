"""`botcluster status`: the running bot's hosts, queue and recent failures, from its `/status`.

The same facts as the operator page at `/` (core/facts.py), as text with the columns
explained. Without a config it asks 127.0.0.1:9464, the default metrics address.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from botcluster.core.facts import (
    LOADED_NOTE,
    QUEUE_NOTE,
    SLOTS_NOTE,
    duration,
    host_state,
    kind_label,
    models_text,
    oldest_age,
)

Echo = Callable[[str], None]
DEFAULT_URL = "http://127.0.0.1:9464"
RECENT_SHOWN = 10
TEXT_SHOWN = 60


def show_status(base_url: str, *, as_json: bool, watch: bool, echo: Echo) -> int:
    """Print the status of the bot whose metrics endpoint is `base_url`; 1 if none answers."""
    url = base_url.rstrip("/") + "/status"
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


def _plain(text: object) -> str:
    """Printable characters only: a message must not send escape codes to the terminal."""
    return "".join(c if c.isprintable() else "?" for c in str(text))


def render(data: dict[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    ready = "ready" if data.get("ready") else f"NOT READY: {data.get('ready_reason', '')}"
    rows = [f"botcluster {data.get('version', '?')}, up {duration(data.get('uptime_s'))}, "
            f"site {data.get('site', '?')}: {ready}", ""]
    rows.append(f"{'host':<16} {'state':<14} {'slots used/total':<17} {'memory GB':<10} "
                "loaded (context tokens); loading")
    for name, h in sorted(data.get("hosts", {}).items()):
        mem = (f"{h['memory_used_gb']:.0f}/{h['memory_gb']:.0f}" if h.get("memory_gb")
               else "-")
        loaded = models_text(h.get("loaded", {}))
        if h.get("loading"):
            since = h.get("loading_since", {})
            loaded += "; loading " + ", ".join(
                f"{m} for {data.get('time', now) - since[m]:.0f}s" if m in since else m
                for m in h["loading"])
        rows.append(f"{name:<16} {host_state(h):<14} {h['inflight']}/{h['slots']:<15} "
                    f"{mem:<10} {loaded}")
    rows += [f"  {SLOTS_NOTE}", f"  {LOADED_NOTE}", ""]
    q = data.get("queue", {})
    rows.append(f"queue: {q.get('ready', 0)} ready, {q.get('deferred', 0)} deferred, "
                f"{q.get('claimed', 0)} claimed; oldest waiting "
                f"{duration(oldest_age(data, now))}; "
                f"{data.get('heal_pending', 0)} replies awaiting visibility; "
                f"{data.get('workers_alive', 0)} workers alive")
    rows.append(f"  {QUEUE_NOTE}")
    recent = data.get("recent", [])[:RECENT_SHOWN]
    if recent:
        rows += ["", "recent failures and skips, newest first:"]
        for ev in recent:
            at = time.strftime("%H:%M:%S", time.localtime(float(ev.get("at", 0))))
            where = f" on {ev['host']}" if ev.get("host") else ""
            text = f' "{ev["text"][:TEXT_SHOWN]}"' if ev.get("text") else ""
            rows.append(_plain(f"  {at} {kind_label(ev.get('kind'))}: {ev.get('message_id')}{text} "
                               f"({ev.get('entity') or '-'}{where}): {ev.get('reason')}"))
    return "\n".join(rows)
