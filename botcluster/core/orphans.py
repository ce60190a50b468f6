"""Returns to the queue the server claims that this bot's dead workers left behind.

The KV server never times a claim out: a message claimed by a worker that died stays
`processing` forever, invisible to the pending queue. The journal recovers what a restarted bot
knew; this sweep catches the rest (a lost journal, a claim granted just before a crash). A
message `processing` under one of this bot's worker ids that the dispatcher does not hold, and
that stays so for longer than the generation timeout, is returned to pending with /fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from botcluster.comments import CommentsClient
from botcluster.errors import CommentsError

log = logging.getLogger(__name__)


class OrphanSweeper:
    def __init__(self, client: CommentsClient, dispatcher: Any, worker_prefix: str,
                 timeout_s: float, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.dispatcher = dispatcher
        self.prefix = worker_prefix
        self.timeout_s = timeout_s
        self.clock = clock
        self.first_seen: dict[str, float] = {}
        self.returned = 0

    async def sweep(self) -> int:
        """One pass; returns how many messages were given back to the queue."""
        try:
            recent = await self.client.recent(limit=1000, message_type="human")
        except CommentsError as exc:
            log.warning("orphan sweep skipped: %s", exc)
            return 0
        ours = [m.id for m in recent if m.status == "processing"
                and (m.claimed_by or "").startswith(self.prefix)]
        held: set[str] = await asyncio.to_thread(self.dispatcher.holding, ours)
        now = self.clock()
        orphans = [mid for mid in ours if mid not in held]
        self.first_seen = {mid: self.first_seen.get(mid, now) for mid in orphans}
        given_back = 0
        for mid, since in list(self.first_seen.items()):
            if now - since >= self.timeout_s and await self._give_back(mid):
                del self.first_seen[mid]
                given_back += 1
        self.returned += given_back
        return given_back

    async def _give_back(self, message_id: str) -> bool:
        try:
            await self.client.fail(message_id, "claim left by a dead worker; retrying")
        except CommentsError as exc:
            log.warning("could not return %s to pending: %s", message_id, exc)
            return False
        log.warning("returned %s to pending: a dead worker of this bot held it", message_id)
        return True
