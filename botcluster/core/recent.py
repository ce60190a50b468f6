"""The last failures and skips, with their reasons, for the operator page and `status`.

A bounded list, newest first, of plain dicts (picklable through the manager): failed attempts,
messages given up on, messages an entity chose not to answer, claims lost to another bot, and
malformed messages the poller skipped. `text` is the start of the human message, kept as data:
whoever shows it must escape it.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

KEEP = 30
TEXT_CHARS = 160
REASON_CHARS = 300
# What a finished job's outcome means when no error explains it.
OUTCOME_REASONS = {"skipped": "the entity chose not to answer ([SKIP])",
                   "lost_claim": "another bot or worker holds the claim",
                   "dead_lettered": "out of attempts"}


class RecentEvents:
    """Thread-safe: the supervisor adds from its event loop while /status reads from the
    HTTP server's threads."""

    def __init__(self, keep: int = KEEP) -> None:
        self._events: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)
        self._lock = threading.Lock()

    def add(self, at: float, kind: str, message_id: str, reason: str, *, entity: str = "",
            host: str = "", text: str = "") -> None:
        event = {"at": at, "kind": kind, "message_id": message_id, "entity": entity,
                 "host": host, "reason": reason[:REASON_CHARS], "text": text[:TEXT_CHARS]}
        with self._lock:
            self._events.appendleft(event)

    def add_job(self, at: float, kind: str, job: Any, reason: str, host: str = "") -> None:
        """An event of a dispatcher `Job` (its message's text, if it has one)."""
        text = getattr(job.message, "text", "") if job is not None else ""
        self.add(at, kind, job.message_id if job is not None else "",
                 reason or OUTCOME_REASONS.get(kind, kind),
                 entity=job.entity if job is not None else "", host=host,
                 text=text if isinstance(text, str) else "")

    def items(self) -> list[dict[str, Any]]:
        """Newest first."""
        with self._lock:
            return list(self._events)


def merged(*lists: list[dict[str, Any]], keep: int = KEEP) -> list[dict[str, Any]]:
    """Several processes' events in one list, newest first."""
    return sorted((e for lst in lists for e in lst), key=lambda e: -float(e["at"]))[:keep]
