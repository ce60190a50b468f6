"""The scheduling decision of `Dispatcher.claim` (ARCHITECTURE.md "Scheduling"), as a pure function.

Jobs are taken in the site's priority order: `Job.rank` (higher priority first, then older; a
point of ageing every `jobs.AGEING_S` seconds, so nothing starves). The first job that can start
now goes, where it is expected to finish soonest:

1. a *hit*: its model is loaded on a usable host whose instance and host have a free slot;
2. else a *load*, when that finishes before the capacity the model already has would serve its
   queue (a first copy always does; a replica when the queue is long enough, see `_worth_it`),
   on the host where it is expected to finish first. A load that costs nobody anything
   (free memory or idle models to evict, and a load lane or a free slot) goes at once.
   One that takes from others is charged by Smith's rule (weighted shortest processing time):
   it goes only if its weight per second of host time beats that of the work it displaces,
   counting the reload it forces on an evicted model with queued work and the load time a
   serialized host spends idle;
3. else the job waits (behind a busy instance, a load under way, or a better moment) and the
   next job is considered.

Weights come from ranks (core/priority.py): a job 10 points ahead counts twice as much.
Estimates use each host's measured speeds (`HostView.speeds`, moving averages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botcluster.core.cluster import HostView, Placement
from botcluster.core.jobs import Job
from botcluster.core.jobstore import JobStore
from botcluster.core.room import NOBODY, HostRoom


@dataclass(frozen=True)
class Pick:
    job: Job
    placement: Placement


def pick(store: JobStore, hosts: list[HostView], now: float,
         head: Callable[[str], Job | None]) -> Pick | None:
    """Choose the next job and where it runs, or None if nothing should start now.

    `head(model)` returns the best runnable job for a model (the dispatcher's rate-limit aware
    view of `store.head`).
    """
    usable = [h for h in hosts if h.usable(now)]
    hits = _hit_hosts(usable)
    loaders = [h for h in usable if _can_start_load(h)]
    if not hits and not loaders:
        return None  # every slot and load lane is busy: the common case under load, kept cheap
    heads: dict[str, Job] = {}
    for model in list(store.ready_models()):
        job = head(model)
        if job is not None:
            heads[model] = job
    plan: _Plan | None = None  # built at the first job that needs a load
    for job in sorted(heads.values(), key=lambda j: -j.rank):
        host = hits.get(job.model)
        if host is not None:
            return Pick(job, Placement(host.name, load=False))
        if loaders and plan is None:
            plan = _Plan(store, usable, heads, now, loaders)
        if plan is not None:
            placement = plan.load(job, loaders)
            if placement is not None:
                return Pick(job, placement)
    return None


def _hit_hosts(usable: list[HostView]) -> dict[str, HostView]:
    """Model -> the host to run it on now: loaded, a free slot on its instance and the host;
    healthy before half-open (a probe of a down host costs a real job an attempt), then the
    most free slots."""
    best: dict[str, HostView] = {}
    for h in usable:
        if h.free <= 0:
            continue
        for m in h.loaded:
            if m in h.loading or h.free_for(m) <= 0:
                continue
            other = best.get(m)
            if other is None or (h.up, h.free_for(m)) > (other.up, other.free_for(m)):
                best[m] = h
    return best


def _can_start_load(h: HostView) -> bool:
    """No load under way (one at a time per host), and a slot for it where it needs one."""
    return (not h.static_loaded and not h.loading
            and (not h.load_needs_slot() or h.free > 0))


class _Plan:
    """What one decision needs to know about the queue and the hosts, computed once."""

    def __init__(self, store: JobStore, usable: list[HostView], heads: dict[str, Job],
                 now: float, loaders: list[HostView]) -> None:
        self.usable = usable
        self.hosts_by_name = {h.name: h for h in usable}
        self.now = now
        running = {m for h in usable for m, n in h.running.items() if n > 0}
        self.ready = store.ready_counts()
        # Each host's share of the ready jobs: the work an extra load there delays.
        total = sum(self.ready.values())
        self.total_slots = max(1, sum(u.slots for u in usable))
        self.share = {h.name: total * h.slots / self.total_slots for h in usable}
        self.rooms = {h.name: HostRoom(h, heads, running, self.ready, self.share[h.name])
                      for h in loaders}

    def load(self, job: Job, loaders: list[HostView]) -> Placement | None:
        """Where to load `job`'s model now, or None if waiting is better."""
        model, rank = job.model, job.rank
        best: tuple[float, tuple[bool, bool, int, int, str], Placement] | None = None
        for h in loaders:
            if (h.serves and model not in h.serves) or model in h.loaded:
                continue
            load_s = h.speeds.load_s(h.sizes_gb.get(model))
            offer = self.rooms[h.name].offer(model, load_s, rank)
            if offer is None:
                continue  # no room, or the work it would displace outweighs it
            evict, bar = offer
            # Seconds until its reply: the load, or a slot where all are busy, then a reply.
            finish = max(load_s, 0.0 if h.free > 0 else h.speeds.generation_s / h.slots)
            finish += h.speeds.generation_s
            # Healthy before half-open, then a load that displaces nobody, fewer evictions,
            # the most free slots.
            order = (not h.up, bar != NOBODY, len(evict), -h.free, h.name)
            if best is None or (finish, order) < (best[0], best[1]):
                best = (finish, order, Placement(h.name, load=True, evict=evict))
        if best is None or not self._worth_it(model, best[0], self.hosts_by_name[best[2].host]):
            return None
        return best[2]

    def _worth_it(self, model: str, load_finish: float, target: HostView) -> bool:
        """A first copy of a model always goes. A replica beats waiting for the model's
        existing capacity (loaded or being loaded) when it answers before that capacity
        would have served the model's whole queue, and what it saves the jobs it takes over
        (half the time saved, on average) outweighs what its load, avoidable overhead, costs
        the rest of the target host's share of the backlog."""
        slots = 0
        busy_until = 0.0  # seconds until a copy being loaded can serve
        work = 0.0
        for h in self.usable:
            if not h.up:
                continue  # a half-open host gets one probe, not the model's queue
            if model in h.loading:
                left = h.speeds.load_s(h.sizes_gb.get(model))
                left -= self.now - h.loading_since.get(model, self.now)
                busy_until = max(busy_until, left)
            elif model not in h.loaded:
                continue
            n = h.model_slots(model)
            slots += n
            work += n * h.speeds.generation_s
        if slots == 0:
            return True  # nothing serves this model anywhere: the load is the only way
        queued = self.ready.get(model, 0)
        drain = busy_until + queued * (work / slots) / slots
        if load_finish >= drain:
            return False
        added = target.model_slots(model)
        saved = (drain - load_finish) / 2 * queued * added / (slots + added)
        others = max(0.0, self.share[target.name] - queued * target.slots / self.total_slots)
        return saved > target.speeds.load_s(target.sizes_gb.get(model)) * others
