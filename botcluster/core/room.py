"""Room for a load on one host, computed once per scheduling decision.

`evictions` (core/cluster.py) answers for one model; a decision asks for every waiting model
on every host, so this keeps what does not depend on the model: the eviction order (idle models,
least recently used first, those without queued work before those with), the memory freed
after each eviction, the best queued job each prefix of that order displaces, the reloads it
forces, and the queued hits a load would hold up on a host that loads in a generation slot.
Then `offer` answers for one model with a bisection.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from botcluster.core.cluster import HostView, evictions
from botcluster.core.jobs import Job
from botcluster.core.priority import bar

NOBODY = -math.inf  # the rank a load must beat when it displaces no queued work


class HostRoom:
    def __init__(self, h: HostView, heads: dict[str, Job], running: set[str],
                 ready: dict[str, int], backlog: float = 0.0) -> None:
        """`backlog`: the ready jobs this host is expected to serve (its share of them)."""
        self.h = h
        self.backlog = backlog
        self.ready = ready
        self.heads = heads
        self.running = running
        # Without a budget, or after the host refused a load for memory, the host decides.
        self.exact = h.memory_gb is not None and not h.oom
        queued = {m for m in h.loaded if m in heads}
        # A model generating on another host may go from this one: its jobs there run on.
        idle = [m for m in h.loaded if h.running.get(m, 0) == 0 and m not in h.pinned]
        idle.sort(key=lambda m: (m in queued, h.last_used.get(m, 0.0)))
        self.order = idle
        # Queued hits this host's free slots would run: a load in a slot holds them up.
        self.slot_held: set[str] = set()
        if h.load_needs_slot():
            hits = {m for m in queued if h.free_for(m) > 0}
            if sum(min(ready.get(m, 0), h.free_for(m)) for m in hits) >= h.free:
                self.slot_held = hits
        held = max((heads[m].rank for m in self.slot_held), default=NOBODY)
        free = (h.memory_gb or 0.0) - h.memory_used() if self.exact else 0.0
        # After evicting the first k models of `order`: free memory, best displaced rank,
        # seconds of reloads forced on displaced models.
        self.free_after = [free]
        self.best_after = [held]
        self.reload_after = [0.0]
        self.queued_after = [0]  # ready jobs of the displaced models that lose their copy
        for m in idle:
            size = h.sizes_gb.get(m, 0.0)
            self.free_after.append(self.free_after[-1] + size)
            displaced = m in queued
            self.best_after.append(max(self.best_after[-1], heads[m].rank)
                                   if displaced else self.best_after[-1])
            self.reload_after.append(self.reload_after[-1]
                                     + (h.speeds.load_s(size or None) if displaced else 0.0))
            self.queued_after.append(self.queued_after[-1]
                                     + (ready.get(m, 0) if displaced else 0))
        # The same bars without the load's own time: a cheap lower bound that most fail.
        self.floor_after = [self._bar(b, 0.0, r, q) for b, r, q in
                            zip(self.best_after, self.reload_after, self.queued_after,
                                strict=True)]

    def offer(self, model: str, load_s: float,
              rank: float) -> tuple[tuple[str, ...], float] | None:
        """(models to evict, the rank a job must exceed) to load `model` here now, or None
        if it cannot fit or a job of `rank` does not exceed that rank. The rank is NOBODY
        when the load displaces no queued work; else Smith's rule: the job's weight per second
        of host time (its load, its generation and the reloads it forces) must beat that of
        the displaced work's best job (one generation)."""
        h = self.h
        if not self.exact:
            got = self._inexact(model, load_s)
            return got if got is not None and rank > got[1] else None
        need = h.sizes_gb.get(model, 0.0)
        k = 0 if need > (h.memory_gb or 0.0) else bisect_left(self.free_after, need)
        if k == len(self.free_after) or rank <= self.floor_after[k]:
            return None  # it fits only by evicting running or pinned models, or is outranked
        must_beat = self._bar(self.best_after[k], load_s, self.reload_after[k],
                              self.queued_after[k])
        return (tuple(self.order[:k]), must_beat) if rank > must_beat else None

    def _inexact(self, model: str, load_s: float) -> tuple[tuple[str, ...], float] | None:
        h = self.h
        evict = evictions(h, model, self.running | set(self.heads))
        if evict is None:
            evict = evictions(h, model, self.running)
        if evict is None:
            return None
        displaced = (set(evict) & set(self.heads)) | self.slot_held
        best = max((self.heads[m].rank for m in displaced), default=NOBODY)
        reloaded = [m for m in displaced if m in evict]
        reload_s = sum(h.speeds.load_s(h.sizes_gb.get(m)) for m in reloaded)
        return evict, self._bar(best, load_s, reload_s, sum(self.heads_ready(m)
                                                             for m in reloaded))

    def heads_ready(self, model: str) -> int:
        return self.ready.get(model, 0)

    def _bar(self, best: float, load_s: float, reload_s: float, queued: int) -> float:
        """Smith's bar for a job that runs before displaced work whose best job ranks `best`:
        it holds the host for its load and generation, and a reload it forces on an evicted
        model delays that model's `queued` jobs and, the host's time being spent twice on
        that model, every job of the backlog behind them (per displaced job: the reload times
        1 + backlog / queued)."""
        if best == NOBODY:
            return NOBODY
        gen_s = self.h.speeds.generation_s
        if reload_s > 0:
            others = max(0.0, self.backlog - queued - 1)  # nor the job that would go first
            reload_s *= 1.0 + others / max(1, queued)
        return bar(best, (load_s + gen_s + reload_s) / gen_s)
