"""How leases die: with their worker, or at their deadline; and when the dispatcher wakes.

A mixin of `Dispatcher` (botcluster/core/dispatcher.py), split out to keep each module to one
job. A dead lease returns its job to the queue at once (`crashes` counts it apart from real
failures); a job that crashes every worker ends failed on the server, for a person to see.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from botcluster.core.cluster import HostView
from botcluster.core.jobs import Job, Lease, Outcome
from botcluster.core.jobstore import JobStore

if TYPE_CHECKING:
    from botcluster.core.dispatcher import DispatcherSettings

log = logging.getLogger(__name__)


class LeaseDeaths:
    # Provided by Dispatcher (annotations only: nothing here shadows its methods).
    _cond: threading.Condition
    clock: Callable[[], float]
    lease_clock: Callable[[], float]
    settings: DispatcherSettings
    store: JobStore
    hosts: dict[str, HostView]
    leases: dict[str, Lease]
    worker_seen: dict[str, float]
    deaths: dict[str, int]
    reclaimed: int
    crash_dead: list[str]
    _release_slot: Callable[[Lease], None]
    _finish: Callable[[str, Outcome], None]
    _requeue: Callable[[Job, float | None], None]

    # --- leases that die --------------------------------------------------------------------

    def worker_died(self, worker_id: str) -> int:
        """Return every lease of a dead worker to the queue at once. Returns how many."""
        with self._cond:
            self.deaths[worker_id] = self.deaths.get(worker_id, 0) + 1
            lost = [lid for lid, lease in self.leases.items() if lease.worker_id == worker_id]
            for lid in lost:
                self._reclaim(self.leases[lid], "worker died")
            self.worker_seen.pop(worker_id, None)
            return len(lost)

    def _expire(self) -> None:
        now = self.lease_clock()
        for lease in [le for le in self.leases.values() if le.deadline <= now]:
            self._reclaim(lease, "lease expired")

    def _reclaim(self, lease: Lease, why: str) -> None:
        self._release_slot(lease)
        self.reclaimed += 1
        job = self.store.jobs[lease.message_id]
        job.last_error = why
        # A crash is not the message's fault, but a message that kills every worker that
        # touches it must still end: crashes have their own, larger budget.
        job.crashes += 1
        log.warning("reclaimed %s from %s on %s: %s", lease.message_id, lease.worker_id,
                    lease.host, why)
        if job.crashes >= self.settings.max_crashes:
            # No worker survives this message: it ends failed on the server, for a person.
            log.error("message %s crashed %d workers; giving up", job.message_id, job.crashes)
            self._finish(job.message_id, "dead_lettered")
            self.crash_dead.append(job.message_id)  # the supervisor fails it on the server
            return
        self._requeue(job, 0.0)

    def _until_next_event(self) -> float:
        now, mono = self.clock(), self.lease_clock()
        times = [h.down_until for h in self.hosts.values() if not h.up]
        nxt = self.store.next_deferred_at()
        if nxt is not None:
            times.append(nxt)
        future = [t - now for t in times if t > now]
        future += [le.deadline - mono for le in self.leases.values() if le.deadline > mono]
        return max(0.01, min([1.0, *future]))
