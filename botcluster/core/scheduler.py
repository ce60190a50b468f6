"""The scheduling decision of `Dispatcher.claim` (DESIGN.md "Scheduling"), as a pure function.

Given the ready jobs and the hosts, pick one (job, placement):
1. a *hit*: the best-ranked job whose model is loaded on a usable host with a free slot;
2. a *load*: the best-ranked job whose model can be loaded on a host now (free slot, no other
   load under way there, memory free or freeable from idle models, least recently used first);
   a model with a load under way, or loaded on a busy host with enough replicas for its queue,
   waits for those instead of triggering another load;
3. a hit goes ahead of a better-ranked load unless the load's job outranks it by SWAP_PENALTY;
   ranks include ageing (jobs.AGEING_S), so a job that needs a swap still runs in the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botcluster.core.cluster import HostView, Placement, find_load, find_loaded
from botcluster.core.jobs import Job
from botcluster.core.jobstore import JobStore

# Priority points a swap costs: a swap takes seconds to minutes while a hit starts at once.
SWAP_PENALTY = 20.0


@dataclass(frozen=True)
class Pick:
    job: Job
    placement: Placement


def pick(store: JobStore, hosts: list[HostView], now: float,
         head: Callable[[str], Job | None]) -> Pick | None:
    """Choose the next job and where it runs, or None if nothing can run now.

    `head(model)` returns the best runnable job for a model (the dispatcher's rate-limit aware
    view of `store.head`).
    """
    best_hit: Pick | None = None
    best_load: Pick | None = None
    busy = _busy_models(store, hosts)
    for model in list(store.ready_models()):
        job = head(model)
        if job is None:
            continue
        host = find_loaded(hosts, model, now)
        if host is not None:
            if best_hit is None or job.rank > best_hit.job.rank:
                best_hit = Pick(job, Placement(host.name, load=False))
            continue
        if best_load is not None and job.rank <= best_load.job.rank:
            continue
        if _should_wait(store, hosts, model, now):
            continue
        placement = find_load(hosts, model, now, busy)
        if placement is not None:
            best_load = Pick(job, placement)
    if best_hit is None:
        return best_load
    if best_load is not None and best_load.job.rank - best_hit.job.rank >= SWAP_PENALTY:
        return best_load
    return best_hit


def _busy_models(store: JobStore, hosts: list[HostView]) -> set[str]:
    busy = set(store.ready_models())
    for h in hosts:
        busy.update(m for m, n in h.running.items() if n > 0)
    return busy


def _should_wait(store: JobStore, hosts: list[HostView], model: str, now: float) -> bool:
    """True when the model's queue is better served by the capacity it has or is getting."""
    replicas = 0
    for h in hosts:
        if not h.usable(now):
            continue
        if model in h.loading:
            return True  # one load at a time per model and host; it will serve the queue
        if model in h.loaded:
            replicas += h.slots
    # Load another replica only when the queue is longer than the slots already serving it.
    return replicas > 0 and store.ready_count(model) <= replicas
