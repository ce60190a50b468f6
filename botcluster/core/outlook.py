"""The dispatcher's outward side: host health reports, and what the supervisor reads.

A mixin of `Dispatcher` (botcluster/core/dispatcher.py), split out to keep each module to one
job: the dispatcher grants and ends leases; these methods feed it the hosts' state and show
its state to the supervisor, `botcluster status` and the metrics publisher. Every method takes
the dispatcher's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from botcluster.core.cluster import (
    HostReport,
    HostView,
    apply_report,
    host_summary,
    mark_down,
    mark_up,
)
from botcluster.core.jobs import Lease, Outcome, PostedReply
from botcluster.core.jobstore import JobStore
from botcluster.core.recent import RecentEvents


class DispatcherOutlook:
    # Provided by Dispatcher.
    _cond: threading.Condition
    clock: Callable[[], float]
    lease_clock: Callable[[], float]
    hosts: dict[str, HostView]
    store: JobStore
    leases: dict[str, Lease]
    posted: list[PostedReply]
    worker_seen: dict[str, float]
    draining: bool
    booted: set[int]
    dirty: set[str]
    crash_dead: list[str]
    reclaimed: int
    outcomes: list[tuple[str, Outcome]]
    recent: RecentEvents
    waits: list[tuple[str, float, str]]
    load_events: list[tuple[str, str, str, float]]
    busy: list[tuple[str, float]]
    _expire: Callable[[], None]  # provided by Dispatcher (via LeaseDeaths)

    # --- hosts --------------------------------------------------------------------------------

    def report_host(self, report: HostReport) -> None:
        """Merge what a host adapter read from the host (supervisor's state poll)."""
        with self._cond:
            if report.host in self.hosts:
                apply_report(self.hosts[report.host], report, self.clock())
                self._cond.notify_all()

    def host_failed(self, host_name: str, error: str) -> None:
        """A request to the host failed to connect or timed out: no traffic until it backs off."""
        with self._cond:
            if host_name in self.hosts:
                mark_down(self.hosts[host_name], error, self.clock())

    def host_ok(self, host_name: str) -> None:
        with self._cond:
            if host_name in self.hosts:
                mark_up(self.hosts[host_name])
                self._cond.notify_all()

    def model_gone(self, host_name: str, model: str) -> None:
        """The host says the model is not loaded (evicted behind our back, or a failed load)."""
        with self._cond:
            host = self.hosts.get(host_name)
            if host is not None:
                host.loaded.pop(model, None)
                self.dirty.add(host_name)

    def take_dirty(self) -> list[str]:
        """Hosts to read again at once (a load, an eviction, a failed attempt), if still up:
        a host marked down is read by the regular poll, which also ends its backoff."""
        with self._cond:
            names = [n for n in self.dirty if self.hosts[n].up]
            self.dirty.clear()
            return names

    # --- the supervisor's view ------------------------------------------------------------------

    def drain(self) -> None:
        """Stop handing out claims; running jobs may still finish and ack."""
        with self._cond:
            self.draining = True
            self._cond.notify_all()

    def take_posted(self) -> list[PostedReply]:
        with self._cond:
            out, self.posted = self.posted, []
            return out

    def stale_workers(self, older_than_s: float) -> list[str]:
        with self._cond:
            limit = self.lease_clock() - older_than_s
            return [w for w, t in self.worker_seen.items() if t < limit]

    def holding(self, message_ids: list[str]) -> set[str]:
        """Those of `message_ids` the dispatcher has queued, claimed or answered."""
        with self._cond:
            return {m for m in message_ids if self.store.known(m)}

    def live(self, message_ids: list[str]) -> set[str]:
        """Those of `message_ids` queued or claimed here (not yet finished)."""
        with self._cond:
            return {m for m in message_ids if m in self.store.jobs}

    def take_crash_dead(self) -> list[str]:
        with self._cond:
            out, self.crash_dead = self.crash_dead, []
            return out

    def booted_pids(self) -> set[int]:
        """Pids of workers that came far enough to send a heartbeat."""
        with self._cond:
            return set(self.booted)

    def live_workers(self, within_s: float) -> int:
        """Workers heard from in the last `within_s` seconds."""
        with self._cond:
            limit = self.lease_clock() - within_s
            return sum(1 for t in self.worker_seen.values() if t >= limit)

    def idle(self) -> bool:
        """Nothing queued, nothing claimed (burst mode exits on this)."""
        with self._cond:
            return not self.store.jobs

    def unfinished_server_claims(self) -> list[str]:
        """Message ids this bot claimed on the server and has not finished (for drain)."""
        with self._cond:
            return [m for m, j in self.store.jobs.items() if j.server_claimed]

    def view(self) -> dict[str, object]:
        """A picklable picture of queue and hosts (for `botcluster status`)."""
        with self._cond:
            now = self.clock()
            self._expire()
            self.store.promote(now)
            counts, oldest, models = self.store.summary()
            return {"time": now, "queue": counts, "oldest": oldest, "reclaimed": self.reclaimed,
                    "models": models,
                    "hosts": {h.name: host_summary(h, now) for h in self.hosts.values()},
                    "recent": self.recent.items()}

    def snapshot(self) -> dict[str, object]:
        """`view()` plus the events since the last snapshot (for the metrics publisher)."""
        with self._cond:
            snap = self.view()
            snap.update(outcomes=self.outcomes, waits=self.waits, busy=self.busy,
                        loads=self.load_events)
            self.outcomes, self.waits, self.busy, self.load_events = [], [], [], []
            return snap

