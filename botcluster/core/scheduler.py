"""The scheduling decision of `Dispatcher.claim` (DESIGN.md "Scheduling"), as a pure function.

Given the ready jobs and the hosts, pick one (job, placement):
1. a *hit*: the best-ranked job whose model is loaded on a usable host with a free slot;
2. a *load*: the best-ranked job whose model can be loaded on a host now (free slot, no other
   load under way there, memory free or freeable from idle models, least recently used first);
   a model with a load under way, or loaded on a busy host with enough replicas for its queue,
   waits for those instead of triggering another load;
3. a hit goes ahead of a better-ranked load unless the load's job outranks it by SWAP_PENALTY;
   ranks include ageing (jobs.AGEING_S), so a job that needs a swap still runs in the end.
   Loads evict only idle models (no running, no queued work). A load that would evict a model
   with queued (never running) work must outrank the best hit by EVICT_QUEUED_PENALTY, and
   without any hit it may always go, or a busy model would starve every other model on its host.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botcluster.core.cluster import HostView, Placement, find_load, find_loaded
from botcluster.core.jobs import Job
from botcluster.core.jobstore import JobStore

# Priority points a swap costs: a swap takes seconds to minutes while a hit starts at once.
SWAP_PENALTY = 20.0
# Points a swap costs when it evicts a model that still has queued work: that model must be
# loaded again later, so the swap costs a second load on top of its own. At 40, an urgent job
# (80 against 50) waits for the loaded model's jobs that arrived up to 100 s after it
# (AGEING_S = 10) and then loads ahead of every ordinary job; a job of equal priority waits
# for those that arrived up to 400 s after it. Measured on the swap benchmark: see
# benchmarks/RESULTS.md.
EVICT_QUEUED_PENALTY = 40.0


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
    waiting: list[Job] = []  # heads that need a load, best first after the sort below
    for model in list(store.ready_models()):
        job = head(model)
        if job is None:
            continue
        host = find_loaded(hosts, model, now)
        if host is None:
            waiting.append(job)
        elif best_hit is None or job.rank > best_hit.job.rank:
            best_hit = Pick(job, Placement(host.name, load=False))
    waiting.sort(key=lambda j: -j.rank)
    queued, running = _busy_models(store, hosts)
    for job in waiting:
        lead = float("inf") if best_hit is None else job.rank - best_hit.job.rank
        if lead < SWAP_PENALTY:
            break  # the hit goes first; the load gets its turn on a later claim
        # Evict idle models if that is enough; else models with queued (not running) work.
        placement = _idle_load(store, hosts, job.model, now, queued | running)
        if placement is None and lead >= EVICT_QUEUED_PENALTY:
            placement = _idle_load(store, hosts, job.model, now, running)
        if placement is not None:
            return Pick(job, placement)
    return best_hit


def _idle_load(store: JobStore, hosts: list[HostView], model: str, now: float,
               busy: set[str]) -> Placement | None:
    if _should_wait(store, hosts, model, now):
        return None
    return find_load(hosts, model, now, busy)


def _busy_models(store: JobStore, hosts: list[HostView]) -> tuple[set[str], set[str]]:
    """(models with queued work, models with running work)."""
    running = {m for h in hosts for m, n in h.running.items() if n > 0}
    return set(store.ready_models()), running


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
