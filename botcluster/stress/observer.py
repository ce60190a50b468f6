"""The observer: polls the recent cache and remembers the first sighting of every message.

The KV cache keeps only the last 200 messages, so a long run cannot be judged from one read at
the end: the observer reads the whole cache every `poll_s` and keeps every row it ever saw,
first sighting only. Failed polls are counted and retried at the next tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from botcluster.stress.report import Sighting

log = logging.getLogger(__name__)


def rows(body: Any) -> list[dict[str, Any]]:
    """The message rows of a GET /api/comments answer, in either dialect."""
    if isinstance(body, dict):
        body = body.get("messages") or body.get("comments") or []
    return [m for m in body if isinstance(m, dict)] if isinstance(body, list) else []


class Observer:
    """Everything any poll saw since `since_ms` (server timestamps, ms)."""

    def __init__(self, http: httpx.AsyncClient, since_ms: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.since_ms = since_ms
        self.clock = clock
        self.seen: dict[str, Sighting] = {}
        self.polls = 0
        self.failed_polls = 0

    async def poll(self) -> bool:
        """One read of the cache; True when it succeeded."""
        self.polls += 1
        try:
            r = await self.http.get("/api/comments",
                                    params={"after": str(self.since_ms), "limit": "1000"})
            r.raise_for_status()
            found = rows(r.json())
        except (httpx.HTTPError, ValueError) as exc:
            self.failed_polls += 1
            log.debug("observer poll failed: %s", exc)
            return False
        now = self.clock()
        for m in found:
            mid = m.get("id")
            if isinstance(mid, str) and mid not in self.seen:
                self.seen[mid] = Sighting(first_seen=now, message=m)
        return True

    def answered(self, ids: set[str]) -> set[str]:
        """Those of `ids` that some seen AI message replies to."""
        replied = {s.message.get("replyTo") for s in self.seen.values()
                   if s.message.get("message-type") == "AI"}
        return {i for i in ids if i in replied}
