"""The operator page at `/` on the metrics port: one server-rendered HTML page, no script.

Shows the facts of core/facts.py: hosts (up or down, slots used out of the total, loaded and
loading models), the queue, recent failures and skips with their reasons, version, uptime and
the site. It refreshes itself every few seconds. Every value is escaped: message text and
host error strings are data, never markup (the server also forbids scripts with a CSP).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from html import escape
from typing import Any

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

REFRESH_S = 5
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; } th, td { padding: .25em .8em .25em 0; text-align: left;
vertical-align: top; border-bottom: 1px solid #ddd; } th { font-weight: 600; }
.up { color: #176f2c; } .down { color: #b00020; font-weight: 600; }
.note { color: #666; font-size: .9em; } .text { font-family: ui-monospace, monospace; }
td { white-space: nowrap; } td.wrap { white-space: normal; }
.ready { color: #176f2c; } .notready { color: #b00020; font-weight: 600; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(cls: str, head: Iterable[str], rows: Iterable[Iterable[str]],
           wrap_from: int = 99) -> str:
    """`rows` hold HTML already escaped by the caller; columns from `wrap_from` on may wrap."""
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        cells = [f'<td class="wrap">{c}</td>' if i >= wrap_from else f"<td>{c}</td>"
                 for i, c in enumerate(row)]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _hosts(facts: dict[str, Any]) -> str:
    rows = []
    for name, h in sorted(facts.get("hosts", {}).items()):
        state = host_state(h)
        mem = (f"{h.get('memory_used_gb', 0):.0f}/{h['memory_gb']:.0f}"
               if h.get("memory_gb") else "-")
        rows.append([_e(name), f'<span class="{"up" if h.get("up") else "down"}">'
                     f"{_e(state)}</span>", _e(f"{h.get('inflight', 0)}/{h.get('slots', 0)}"),
                     _e(models_text(h.get("loaded", {}))),
                     _e(", ".join(h.get("loading", [])) or "-"), _e(mem)])
    table = _table("hosts", ["host", "state", "slots used/total", "loaded (context tokens)",
                             "loading", "memory GB used/budget"], rows)
    return table + f'<p class="note">{_e(SLOTS_NOTE)}. {_e(LOADED_NOTE)}.</p>'


def _queue(facts: dict[str, Any], now: float) -> str:
    q = facts.get("queue", {})
    rows = [[_e(q.get("ready", 0)), _e(q.get("deferred", 0)), _e(q.get("claimed", 0)),
             _e(duration(oldest_age(facts, now))), _e(facts.get("heal_pending", 0))]]
    return (_table("queue", ["ready", "deferred", "claimed", "oldest waiting",
                             "replies awaiting visibility"], rows)
            + f'<p class="note">{_e(QUEUE_NOTE)}.</p>')


def _recent(facts: dict[str, Any]) -> str:
    events = facts.get("recent", [])
    if not events:
        return '<p class="note">none</p>'
    rows = [[_e(time.strftime("%H:%M:%S", time.localtime(float(ev.get("at", 0))))),
             _e(kind_label(ev.get("kind", ""))), _e(ev.get("message_id", "")),
             _e(ev.get("entity", "")), _e(ev.get("host", "")), _e(ev.get("reason", "")),
             f'<span class="text">{_e(ev.get("text", ""))}</span>'] for ev in events]
    return _table("recent", ["time", "what", "message", "entity", "host", "reason",
                             "message text"], rows, wrap_from=5)


def render_page(facts: dict[str, Any], now: float | None = None) -> str:
    """The whole page for `facts` (the dict of core/facts.py)."""
    now = time.time() if now is None else now
    ready = facts.get("ready", False)
    readiness = ('<span class="ready">ready</span>' if ready else
                 f'<span class="notready">NOT READY: {_e(facts.get("ready_reason", ""))}'
                 "</span>")
    site = _e(facts.get("site", ""))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>botcluster {_e(facts.get('version', ''))}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>botcluster {_e(facts.get('version', ''))}</h1>"
        f'<p id="summary">up {_e(duration(facts.get("uptime_s")))} &middot; site '
        f'<a href="{site}">{site}</a> &middot; {readiness} &middot; '
        f"{_e(facts.get('workers_alive', 0))} workers alive</p>"
        f"<h2>Hosts</h2>{_hosts(facts)}"
        f"<h2>Queue</h2>{_queue(facts, now)}"
        f"<h2>Recent failures and skips</h2>{_recent(facts)}"
        '<p class="note">Raw: <a href="/status">/status</a> &middot; <a href="/metrics">'
        '/metrics</a> &middot; <a href="/healthz">/healthz</a> &middot; '
        '<a href="/readyz">/readyz</a></p></body></html>')
