"""The runner's side of the server's claim queue: claim, recognise our own, give up a claim.

A mixin of `JobRunner` (botcluster/core/job_runner.py), split out to keep each module to one
job. On the KV server a claim is a read-modify-write that can be granted twice or answered
409 for a claim that was in fact ours (a timed-out attempt whose cache write was lost); the
methods here decide which, and a claim lost to another bot is never taken for an answer.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from botcluster.core.jobs import Job, Lease
from botcluster.errors import BotclusterError, ClaimLost

if TYPE_CHECKING:
    from botcluster.core.job_runner import RunnerDeps

log = logging.getLogger(__name__)


class ServerClaims:
    d: RunnerDeps

    async def _server_claim(self, job: Job, lease: Lease) -> bool:
        if job.server_claimed:
            return True
        try:
            await self.d.client.claim(job.message_id, self.d.server_worker_id)
        except ClaimLost:
            if not await self._claimed_by_dead_self(job):
                log.info("message %s claimed elsewhere; leaving it", job.message_id)
                return await self._lost_claim(job, lease)
            log.warning("message %s is held by a dead worker of this bot; taking it over",
                        job.message_id)
        job.server_claimed = True
        await self.d.link.note(lease.lease_id, server_claimed=True)
        await self.d.journal.append({"e": "claimed", "m": job.message_id})
        return True

    async def _lost_claim(self, job: Job, lease: Lease) -> bool:
        # Not "done": should the claim turn out to be ours, it comes back and is taken again.
        await self.d.journal.append({"e": "done", "m": job.message_id, "o": "returned"})
        await self.d.link.ack(lease.lease_id, "lost_claim", message_id=job.message_id)
        return False

    async def _claimed_by_dead_self(self, job: Job) -> bool:
        """True when the claim the server reports taken is most likely this bot's own: an
        earlier lease of this job died (`crashes`; jobs recovered from the journal after a
        crash count as one), so a worker may have been killed between the server's claim and
        recording it, and nobody else would ever answer the message.

        The server's copy is read from its recent cache. It is left alone only when that copy
        shows another claimer or a final status; a missing copy, or one still "pending" (the
        cache lost the claim's write, CONTRACT.md), is taken to be ours. Worker ids are
        stable per bot (`{worker_id}-wN`, matched exactly: `claimed_by_bot`) and one bot
        serves a site (lock); the reply id, chosen once, keeps a repeated answer from becoming
        a second reply.
        """
        if job.crashes == 0:
            return False
        try:
            recent = await self.d.client.recent(after_ms=max(0, job.message_ts_ms - 1),
                                                limit=1000, message_type="human")
        except BotclusterError:
            return False
        copy = next((m for m in recent if m.id == job.message_id), None)
        if copy is None or copy.status == "pending":
            return True
        return copy.status == "processing" and claimed_by_bot(copy.claimed_by,
                                                              self.d.config.bot.worker_id)


def claimed_by_bot(claimed_by: str | None, worker_id: str) -> bool:
    """Whether a server claim's `claimedBy` names one of the workers of the bot `worker_id`.

    Workers claim as `{worker_id}-w{N}`. The match is exact, never a prefix: the digits after
    the last "-w" end the id, so the bot part is determined by the claim, and `bot` never
    matches the claims of `bot-w2` (`bot-w2-w0`), nor `pod` those of `pod-7`.
    """
    if not claimed_by:
        return False
    return re.fullmatch(re.escape(worker_id) + r"-w[0-9]+", claimed_by) is not None

