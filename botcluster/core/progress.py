"""What workers record along the way, so that it outlives them: the reply id per message,
progress notes on a job, and the permits that space an entity's posts.

A mixin of `Dispatcher` (botcluster/core/dispatcher.py), split out to keep each module to one
job. Every method takes the dispatcher's lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from botcluster.core.jobs import Lease
from botcluster.core.jobstore import JobStore
from botcluster.core.ratelimit import RateLimiter


class WorkerProgress:
    # Provided by Dispatcher (annotations only: nothing here shadows its methods).
    _cond: threading.Condition
    clock: Callable[[], float]
    store: JobStore
    leases: dict[str, Lease]
    post_limiters: dict[str, RateLimiter]

    def reply_id_for(self, message_id: str, proposal: str) -> str:
        """The message's reply id: the one already chosen, else `proposal`, kept from now on.

        Keyed by message, not lease, so that a worker whose lease expired while it worked and
        the worker that took the job over can never choose two ids (two visible replies).
        """
        with self._cond:
            job = self.store.jobs.get(message_id)
            if job is None:
                return proposal
            if job.reply_id is None:
                job.reply_id = proposal
            return job.reply_id

    def unforget(self, message_id: str) -> None:
        """A dead letter's /fail did not reach the server: let the message be taken again."""
        with self._cond:
            self.store.unforget(message_id)

    def post_permit(self, entity_id: str) -> float:
        """The time (unix seconds, whole milliseconds) at which a reply of the entity may be
        posted; that post is reserved. The reply carries it as its timestamp.

        Permits are handed out in order and exactly spaced, so posts for one entity keep their
        spacing whatever the generations before them took.
        """
        with self._cond:
            now = self.clock()
            limiter = self.post_limiters.get(entity_id)
            if limiter is None:
                return now
            at = math.ceil(limiter.next_allowed(now) * 1000) / 1000
            limiter.reserve(at)
            return at

    def holds(self, lease_id: str) -> bool:
        with self._cond:
            return lease_id in self.leases

    def note(self, lease_id: str, *, reply_id: str | None = None,
             server_claimed: bool | None = None, reply_posted: bool | None = None,
             post_attempted: bool | None = None) -> bool:
        """Record progress that must survive the worker: reply id, server claim, a POST begun,
        posted."""
        with self._cond:
            lease = self.leases.get(lease_id)
            job = self.store.jobs.get(lease.message_id) if lease else None
            if job is None:
                return False
            if reply_id is not None:
                job.reply_id = reply_id
            if server_claimed is not None:
                job.server_claimed = server_claimed
            if reply_posted is not None:
                job.reply_posted = reply_posted
            if post_attempted is not None:
                job.post_attempted = post_attempted
            return True
