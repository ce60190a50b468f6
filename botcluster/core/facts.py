"""What an operator asks of a running bot, in one picklable dict: `/status`, the page at `/`
and `botcluster status` all show this.

Keys: `version`, `started_at` and `uptime_s`, `site` (the comments API URL), `ready` and
`ready_reason`, `hosts` (name -> up, usable, slots, inflight = slots in use, loaded = model ->
context length in tokens one request may use (0 unknown), loading, memory), `queue` (ready,
deferred, claimed), `oldest` (enqueue time of the oldest waiting job, or None), `heal_pending`,
`workers_alive`, and `recent` (failures and skips, newest first: core/recent.py).
"""

from __future__ import annotations

import time
from typing import Any

from botcluster import __version__
from botcluster.config.model import Config
from botcluster.core.recent import merged


def status_facts(view: dict[str, Any], config: Config, *, started_at: float, ready: bool,
                 ready_reason: str, heal_pending: int, workers_alive: int,
                 recent: list[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    """The dispatcher's `view()` with the supervisor's own facts added."""
    now = time.time() if now is None else now
    facts = dict(view)
    facts.update(version=__version__, started_at=started_at,
                 uptime_s=max(0.0, now - started_at), site=config.api_url, ready=ready,
                 ready_reason=ready_reason, heal_pending=heal_pending,
                 workers_alive=workers_alive,
                 recent=merged(list(view.get("recent", [])), recent))
    return facts


# --- how both views say things ------------------------------------------------------------

SLOTS_NOTE = "slots used/total: predictions running now / prediction slots of the host"
LOADED_NOTE = ("loaded: model (context length in tokens one request may use; ? = not reported); "
               "loading: a load under way")
QUEUE_NOTE = ("ready: may run now; deferred: waiting for a rate limit or a retry backoff; "
              "claimed: running on a worker")


KIND_LABELS = {"attempt failed": "attempt failed", "dead_lettered": "gave up",
               "skipped": "skipped", "lost_claim": "claim lost", "malformed": "malformed, skipped"}


def kind_label(kind: object) -> str:
    return KIND_LABELS.get(str(kind), str(kind))


def duration(seconds: float | None) -> str:
    """`3d 4h`, `2h 5m`, `4m 10s`, `12s`; `-` for None."""
    if seconds is None:
        return "-"
    s = int(max(0.0, seconds))
    for size, unit, smaller, sub in ((86400, "d", 3600, "h"), (3600, "h", 60, "m"),
                                     (60, "m", 1, "s")):
        if s >= size:
            return f"{s // size}{unit} {s % size // smaller}{sub}"
    return f"{s}s"


def models_text(loaded: dict[str, int]) -> str:
    """`smollm2 (2048)`, several comma-separated; `-` when none."""
    return ", ".join(f"{m} ({c or '?'})" for m, c in sorted(loaded.items())) or "-"


def host_state(h: dict[str, Any]) -> str:
    if h.get("up"):
        return "up"
    return "down, probing" if h.get("usable") else "DOWN"


def oldest_age(facts: dict[str, Any], now: float | None = None) -> float | None:
    oldest = facts.get("oldest")
    if not oldest:
        return None
    return (time.time() if now is None else now) - float(oldest)
