"""The dispatcher: the claim queue and the cluster state, behind one lock.

One instance lives in the multiprocessing manager process; the supervisor and the workers reach
it through proxies. `claim(worker)` returns a job together with a lease on a host slot, chosen
jointly by `scheduler.pick`: it is the only place where scheduling decisions are made.

Every public method is thread-safe (the manager serves each connection from its own thread)
and takes and returns plain picklable data.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from botcluster.config.model import Config, Entity
from botcluster.core.cluster import (
    HostView,
)
from botcluster.core.jobs import Claim, Job, Lease, Outcome, PostedReply
from botcluster.core.jobstore import JobStore
from botcluster.core.leases import LeaseDeaths
from botcluster.core.outlook import DispatcherOutlook
from botcluster.core.progress import WorkerProgress
from botcluster.core.ratelimit import RateLimiter
from botcluster.core.recent import RecentEvents
from botcluster.core.scheduler import pick

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatcherSettings:
    lease_s: float = 60.0
    max_attempts: int = 3
    max_crashes: int = 10  # leases lost with a dead worker: counted apart from real failures
    retry_backoff_s: float = 1.0

    @classmethod
    def from_config(cls, config: Config) -> DispatcherSettings:
        return cls(lease_s=config.bot.lease_s, max_attempts=config.bot.max_attempts)


@dataclass(frozen=True)
class ReleaseResult:
    dead: bool  # out of attempts: the caller dead-letters it on the server
    attempts: int


class Dispatcher(LeaseDeaths, DispatcherOutlook, WorkerProgress):
    def __init__(self, settings: DispatcherSettings, hosts: Iterable[HostView],
                 entities: dict[str, Entity], clock: Callable[[], float] = time.time,
                 lease_clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock  # enqueue times, ageing, rate limits, host backoff: wall time
        # Lease deadlines and worker heartbeats only measure intervals: a monotonic clock, so
        # that a wall-clock step (NTP, a suspended VM) neither expires every lease at once
        # nor makes every worker look hung.
        self.lease_clock = lease_clock
        self.store = JobStore()
        self.hosts: dict[str, HostView] = {h.name: h for h in hosts}
        self.entities = entities
        # Claim-time limiters keep parallel workers from claiming past an entity's limits;
        # post-time limiters space the posts themselves, whatever each generation took.
        self.limiters = {e.id: RateLimiter(e.rate_limits) for e in entities.values()}
        self.post_limiters = {e.id: RateLimiter(e.rate_limits) for e in entities.values()}
        self.booted: set[int] = set()  # pids of workers that have sent a heartbeat
        self.dirty: set[str] = set()  # hosts to read again now: a load, eviction or error
        self.crash_dead: list[str] = []  # dead-lettered for crashing workers: fail on server
        self.leases: dict[str, Lease] = {}
        self.slot_freed: set[str] = set()  # live leases whose host slot was given back early
        # Live leases that hold no generation slot: loading in a host's load lane, or whose
        # load failed. They take a slot when their load ends (`load_finished`).
        self.unslotted: set[str] = set()
        self.gen_started: dict[str, float] = {}  # lease id -> when it took its slot
        self.lease_of: dict[str, str] = {}  # message id -> live lease id
        self.worker_seen: dict[str, float] = {}
        self.posted: list[PostedReply] = []
        self.draining = False
        self.reclaimed = 0
        # worker id -> how many times it was declared dead. A dead worker's claim() call may
        # still be waiting in a manager thread; it must not grant a lease after the death.
        self.deaths: dict[str, int] = {}
        self.outcomes: list[tuple[str, Outcome]] = []  # drained by the metrics publisher
        self.recent = RecentEvents()  # failures and skips, for the operator page
        self.waits: list[tuple[str, float, str]] = []  # host, seconds waited, model
        self.load_events: list[tuple[str, str, str, float]] = []  # host, model, outcome, s
        self.busy: list[tuple[str, float]] = []
        self._cond = threading.Condition()

    # --- the queue --------------------------------------------------------------------------

    def offer(self, jobs: list[Job]) -> int:
        """Queue new jobs; ids already queued, claimed or answered are ignored. Returns added."""
        added = 0
        with self._cond:
            now = self.clock()
            for job in jobs:
                if self.store.known(job.message_id):
                    continue
                self.store.add(job, now)
                added += 1
            if added:
                self._cond.notify_all()
        return added

    def forget(self, message_ids: list[str]) -> None:
        """Remember ids as answered (from the journal at start) so they are never queued."""
        with self._cond:
            self.store.remember_done(message_ids)

    def claim(self, worker_id: str, wait_s: float = 0.0, pid: int = 0) -> Claim | None:
        """A job and a lease on a host slot for it, or None after `wait_s` seconds.

        The lease belongs to process `pid`: only that process's heartbeats keep it alive, so a
        late claim of a dead worker cannot be kept alive by its replacement (same worker id).
        """
        give_up = time.monotonic() + wait_s
        with self._cond:
            incarnation = self.deaths.get(worker_id, 0)
            while True:
                if self.draining or self.deaths.get(worker_id, 0) != incarnation:
                    # Declared dead while this call waited: the caller is the dead process,
                    # and a lease granted now would be kept alive by its replacement's
                    # heartbeats (same worker id) without anyone running the job.
                    return None
                self.worker_seen[worker_id] = self.lease_clock()
                claim = self._try_claim(worker_id, pid)
                if claim is not None:
                    return claim
                left = give_up - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, self._until_next_event()))

    def _try_claim(self, worker_id: str, pid: int = 0) -> Claim | None:
        now = self.clock()
        self._expire()
        self.store.promote(now)
        choice = pick(self.store, list(self.hosts.values()), now, self._runnable_head)
        if choice is None:
            return None
        return self._grant(choice.job, choice.placement.host, choice.placement.load,
                           choice.placement.evict, worker_id, now, pid)

    def _runnable_head(self, model: str) -> Job | None:
        """The model's best job whose entity may post now; defers the ones that may not."""
        now = self.clock()
        while (job := self.store.head(model)) is not None:
            limiter = self.limiters.get(job.entity)
            at = limiter.next_allowed(now) if limiter else now
            if at <= now:
                return job
            self.store.defer(job, at)
        return None

    def _grant(self, job: Job, host_name: str, load: bool, evict: tuple[str, ...],
               worker_id: str, now: float, pid: int = 0) -> Claim:
        host = self.hosts[host_name]
        ready_since = max(job.enqueued_at, job.not_before)
        lease = Lease(lease_id=uuid.uuid4().hex, message_id=job.message_id,
                      worker_id=worker_id, host=host_name, model=job.model,
                      deadline=self.lease_clock() + self.settings.lease_s,
                      load=load, evict=evict,
                      context_length=host.loaded.get(job.model, 0),
                      granted_at=now, waited_s=max(0.0, now - ready_since), pid=pid,
                      probe=not host.up)
        self.store.mark_claimed(job)
        self.leases[lease.lease_id] = lease
        self.lease_of[job.message_id] = lease.lease_id
        host.last_used[job.model] = now
        if load:
            host.loading.add(job.model)
            host.loading_since[job.model] = now
        if load and not host.load_needs_slot():
            self.unslotted.add(lease.lease_id)  # the load lane: generation slots stay free
        else:
            self._take_slot(host, job.model, lease.lease_id, now)
        for model in evict:
            host.loaded.pop(model, None)
        host.evicting.update(evict)
        if job.entity in self.limiters:
            self.limiters[job.entity].reserve(now)
        self.waits.append((host_name, lease.waited_s, job.model))
        return Claim(job=replace(job), lease=lease)

    # --- what workers report ----------------------------------------------------------------

    def heartbeat(self, worker_id: str, pid: int = 0) -> int:
        """The worker is alive: extend all its leases. Returns how many it holds."""
        with self._cond:
            now = self.lease_clock()
            self.worker_seen[worker_id] = now
            self.booted.add(pid)
            mine = [lid for lid, lease in self.leases.items() if lease.worker_id == worker_id
                    and (lease.pid == pid or not lease.pid or not pid)]
            for lid in mine:
                self.leases[lid] = replace(self.leases[lid], deadline=now + self.settings.lease_s)
            return len(mine)

    def load_finished(self, lease_id: str, ok: bool, context_length: int = 0,
                      out_of_memory: bool = False) -> None:
        """A load the lease asked for ended. Out of memory: the next load there evicts."""
        with self._cond:
            lease = self.leases.get(lease_id)
            if lease is None:
                return
            host, now = self.hosts[lease.host], self.clock()
            host.loading.discard(lease.model)
            since = host.loading_since.pop(lease.model, lease.granted_at)
            host.evicting.difference_update(lease.evict)  # the unloads came first
            host.oom = out_of_memory
            self.dirty.add(lease.host)
            outcome = "ok" if ok else "oom" if out_of_memory else "error"
            self.load_events.append((lease.host, lease.model, outcome, max(0.0, now - since)))
            if ok:
                host.loaded[lease.model] = context_length
                if not host.jit_loads:  # a JIT load's time includes its generation
                    host.speeds.observe_load(now - since, host.sizes_gb.get(lease.model))
            if lease_id in self.unslotted:
                if ok:  # loaded beside generation: now it needs a generation slot
                    self.unslotted.discard(lease_id)
                    self._take_slot(host, lease.model, lease_id, now)
            else:
                self.gen_started[lease_id] = now  # the slot generates from now on
            self._cond.notify_all()

    def generation_done(self, lease_id: str) -> None:
        """The lease's LLM call is over: its host slot is free for the next job now.

        Posting the reply and completing the message take three calls to the comments API and
        two fsyncs (hundreds of ms against the site); the host must not idle meanwhile. The
        lease itself lives on until ack or release, which then leave the host alone.
        """
        with self._cond:
            lease = self.leases.get(lease_id)
            if lease is None or lease_id in self.slot_freed:
                return
            self.slot_freed.add(lease_id)
            started = self.gen_started.get(lease_id)
            host = self.hosts[lease.host]
            if started is not None and not (lease.load and host.jit_loads):
                host.speeds.observe_generation(self.clock() - started)
            self._free_host_slot(lease)
            self._cond.notify_all()

    def ack(self, lease_id: str, outcome: Outcome, posted: PostedReply | None = None,
            message_id: str | None = None) -> None:
        """The job is finished (replied, skipped, lost to another bot).

        Works even when the lease already expired and went to another worker: the job is done
        either way, and the other lease is withdrawn (its reply would reuse the same id).
        """
        with self._cond:
            lease = self.leases.get(lease_id)
            mid = lease.message_id if lease else (message_id or (posted and posted.message_id))
            if not mid:
                return
            other = self.leases.get(self.lease_of.get(mid, ""))
            for held in {le.lease_id: le for le in (lease, other) if le}.values():
                self._release_slot(held)
            self._finish(mid, outcome)
            if posted is not None:
                self.posted.append(posted)
            self._cond.notify_all()

    def _finish(self, message_id: str, outcome: Outcome) -> None:
        # A lost claim is not an answer: if the claim was ours after all (an ambiguous 409),
        # the orphan sweep puts the message back to pending and it must be taken again.
        job = self.store.finish(message_id, remember=outcome != "lost_claim")
        if outcome != "replied":
            self.recent.add_job(self.clock(), outcome, job, job.last_error if job else "")
        self.lease_of.pop(message_id, None)
        self.outcomes.append((job.entity if job else "", outcome))

    def release(self, lease_id: str, error: str, *, count: bool = True,
                delay_s: float | None = None, host_down: bool = False) -> ReleaseResult:
        """A failed attempt: back to the queue after a backoff, or dead when out of attempts.

        A dead job is finished here (outcome `dead_lettered`); the caller only tells the server.
        `host_down`: the host went down under the job. That costs no attempt until the job
        has seen more downs than there are hosts, plus one; each further one costs an
        attempt, so a prompt that brings down every host it runs on ends failed. A probe of a
        host already marked down is not counted: a long outage costs nothing.
        """
        with self._cond:
            lease = self.leases.get(lease_id)
            if lease is None:
                return ReleaseResult(dead=False, attempts=0)
            self._release_slot(lease)
            self.dirty.add(lease.host)  # learn what the failure left on the host
            job = self.store.jobs[lease.message_id]
            job.last_error = error
            if host_down and not lease.probe:
                job.host_downs += 1
                count = count or job.host_downs > len(self.hosts) + 1
            self.recent.add_job(self.clock(), "attempt failed", job, error, lease.host)
            # After its reply was posted a job only has to be completed: never dead-letter it.
            job.attempts += 1 if count and not job.reply_posted else 0
            if job.attempts >= self.settings.max_attempts:
                self._finish(job.message_id, "dead_lettered")
                self._cond.notify_all()
                return ReleaseResult(dead=True, attempts=job.attempts)
            self._requeue(job, delay_s)
            return ReleaseResult(dead=False, attempts=job.attempts)

    def _requeue(self, job: Job, delay_s: float | None) -> None:
        now = self.clock()
        backoff = self.settings.retry_backoff_s * (2 ** max(0, job.attempts - 1))
        job.not_before = now + (backoff if delay_s is None else delay_s)
        self.lease_of.pop(job.message_id, None)
        self.store.make_waiting(job, now)
        self._cond.notify_all()

    def _release_slot(self, lease: Lease) -> None:
        self.leases.pop(lease.lease_id, None)
        if lease.lease_id in self.slot_freed:
            self.slot_freed.discard(lease.lease_id)  # generation_done gave the slot back
            return
        self._free_host_slot(lease)

    def _take_slot(self, host: HostView, model: str, lease_id: str, now: float) -> None:
        host.inflight += 1
        host.running[model] = host.running.get(model, 0) + 1
        self.gen_started[lease_id] = now

    def _free_host_slot(self, lease: Lease) -> None:
        host, now = self.hosts[lease.host], self.clock()
        if lease.load and lease.model in host.loading:
            # The load never reported its end (its worker died, or the lease expired).
            host.loading.discard(lease.model)
            since = host.loading_since.pop(lease.model, lease.granted_at)
            host.evicting.difference_update(lease.evict)
            self.load_events.append((lease.host, lease.model, "error", max(0.0, now - since)))
        host.last_used[lease.model] = now
        started = self.gen_started.pop(lease.lease_id, None)
        if lease.lease_id in self.unslotted:
            self.unslotted.discard(lease.lease_id)  # it never held a generation slot
            return
        host.inflight = max(0, host.inflight - 1)
        host.running[lease.model] = max(0, host.running.get(lease.model, 1) - 1)
        self.busy.append((lease.host, max(0.0, now - (started or lease.granted_at))))
