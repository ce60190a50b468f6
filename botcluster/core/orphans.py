"""Finds the server claims of this bot's workers that nobody here works on, and takes them back.

The KV server never times a claim out: a message claimed by a worker that died stays
`processing` forever, invisible to the pending queue. The journal recovers what a restarted bot
knew; this sweep catches the rest (a lost journal, a claim granted just before a crash, an
ambiguous 409 that was ours after all). A message `processing` under one of this bot's worker
ids (`claimed_by_bot`: an exact match, so no other bot's claims) that the dispatcher does not
hold, and that stays so for longer than the generation timeout, is re-adopted: queued again as
a job of this bot, whose claim the runner recognises as its own. It is never sent to /fail:
that spends one of the server's three attempts (KV) or does nothing at all (DO).

Messages this bot finished that the server still shows `processing` under its workers are
counted in `botcluster_finished_claims_held`: on the DO dialect, which has no failed state,
that is where a dead letter stays (the journal has it as `dead_lettered`); on KV it is a
completion the recent cache lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from botcluster import metrics
from botcluster.comments import CommentsClient, Message
from botcluster.comments import dialect as dialects
from botcluster.core.server_claims import claimed_by_bot
from botcluster.errors import CommentsError

log = logging.getLogger(__name__)

Adopt = Callable[[list[Message]], Awaitable[int]]


class OrphanSweeper:
    def __init__(self, client: CommentsClient, dispatcher: Any, worker_id: str,
                 timeout_s: float, adopt: Adopt | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`worker_id`: the bot's (`[bot] worker_id`), whose workers claim as
        `{worker_id}-wN`. `adopt` queues messages again as this bot's own jobs (the
        poller's `adopt`); without it the sweep takes nothing back."""
        self.client = client
        self.dispatcher = dispatcher
        self.worker_id = worker_id
        self.timeout_s = timeout_s
        self.adopt = adopt
        self.clock = clock
        self.first_seen: dict[str, float] = {}
        self.adopted = 0
        self.held_finished: set[str] = set()

    async def sweep(self) -> int:
        """One pass; returns how many orphaned claims were queued again here."""
        try:
            recent = await self.client.recent(limit=1000, message_type="human")
            dialect = await self.client.detect()
        except CommentsError as exc:
            log.warning("orphan sweep skipped: %s", exc)
            return 0
        ours = {m.id: m for m in recent if m.status == "processing"
                and claimed_by_bot(m.claimed_by, self.worker_id)}
        held: set[str] = await asyncio.to_thread(self.dispatcher.holding, list(ours))
        live: set[str] = await asyncio.to_thread(self.dispatcher.live, list(held))
        self._count_finished(held - live, dialect)
        now = self.clock()
        self.first_seen = {mid: self.first_seen.get(mid, now) for mid in ours if mid not in held}
        due = [ours[mid] for mid, since in self.first_seen.items()
               if now - since >= self.timeout_s]
        if not due or self.adopt is None:
            return 0
        added = await self.adopt(due)
        for m in due:
            del self.first_seen[m.id]
            log.warning("taking back %s: claimed by %s of this bot, and nobody here works "
                        "on it", m.id, m.claimed_by)
        self.adopted += added
        return added

    def _count_finished(self, finished: set[str], dialect: str) -> None:
        # On DO this is where a dead letter stays; on KV, a completion the cache lost (common
        # under load, and harmless: the record is complete), so only DO warns.
        level = logging.WARNING if dialect == dialects.DO else logging.INFO
        for mid in sorted(finished - self.held_finished):
            log.log(level, "message %s is finished here, but the server still shows it "
                    "processing under a worker of %s (DO: a dead letter, which that dialect "
                    "cannot mark failed; the journal has its outcome)", mid, self.worker_id)
        self.held_finished = finished
        metrics.finished_claims_held.set(len(finished))


async def keep_claims_at_drain(dispatcher: Any, worker_id: str) -> list[str]:
    """The drain's step for the server claims of unfinished jobs: keep them, and say so.

    They stay claimed under this bot's worker ids and journaled (`queued`, `claimed`, the
    reply id), and the next start with the same `worker_id` takes them up where they were: its
    runner knows them as its own. Sending them to /fail would return them to pending at the
    price of one of the server's three attempts (KV): three restarts during one slow
    generation would mark the message failed. On DO /fail does not exist. Returns their ids.
    """
    ids: list[str] = await asyncio.to_thread(dispatcher.unfinished_server_claims)
    if ids:
        log.info("keeping %d server claim(s) for the next start of worker id %s: %s",
                 len(ids), worker_id, ", ".join(ids[:20]))
    return ids
