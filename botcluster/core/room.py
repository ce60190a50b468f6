"""Room for a load on one host, computed once per scheduling decision.

`evictions` (core/cluster.py) answers for one model; a decision asks it for every waiting model
on every host, so this keeps what does not depend on the model: the free memory, the idle models
that may be evicted (least recently used first, those without queued work before those with),
and the queued work a load would hold up on a host that loads in a generation slot.
"""

from __future__ import annotations

import math

from botcluster.core.cluster import HostView, evictions
from botcluster.core.jobs import Job
from botcluster.core.priority import PRIORITY_DOUBLING


class HostRoom:
    def __init__(self, h: HostView, heads: dict[str, Job], running: set[str],
                 ready: dict[str, int]) -> None:
        self.h = h
        self.heads = heads
        self.running = running
        # A budget the scheduler cannot reason with: the host decides (core/cluster.py).
        self.exact = h.memory_gb is not None and not h.oom
        queued = {m for m in h.loaded if m in heads}
        idle = [m for m in h.loaded
                if h.running.get(m, 0) == 0 and m not in running and m not in h.pinned]
        idle.sort(key=lambda m: h.last_used.get(m, 0.0))
        self.idle_free = [m for m in idle if m not in queued]
        self.idle_queued = [m for m in idle if m in queued]
        self.free_gb = (h.memory_gb or 0.0) - h.memory_used() if self.exact else 0.0
        self.room_free = self.free_gb + sum(h.sizes_gb.get(m, 0.0) for m in self.idle_free)
        self.room_all = self.room_free + sum(h.sizes_gb.get(m, 0.0) for m in self.idle_queued)
        # Queued hits this host's free slots would run: a load in a slot holds them up.
        self.slot_held: set[str] = set()
        if h.load_needs_slot():
            hits = {m for m in queued if h.free_for(m) > 0}
            if sum(min(ready.get(m, 0), h.free_for(m)) for m in hits) >= h.free:
                self.slot_held = hits
        # The best job a load must outweigh here, at least: every held hit, and the first
        # model with queued work the eviction order reaches once the free room is used up.
        held = max((heads[m].rank for m in self.slot_held), default=-math.inf)
        first = heads[self.idle_queued[0]].rank if self.idle_queued else math.inf
        self.floor_fits = held  # for a model that fits in `room_free`
        self.floor_big = max(held, first)  # for one that does not

    def place(self, model: str) -> tuple[tuple[str, ...], set[str]] | None:
        """(models to evict, queued models displaced) to load `model` here, or None."""
        h = self.h
        if not self.exact:
            evict = evictions(h, model, self.running | set(self.heads))
            if evict is None:
                evict = evictions(h, model, self.running)
            if evict is None:
                return None
            return evict, (set(evict) & set(self.heads)) | self.slot_held
        need = h.sizes_gb.get(model, 0.0)
        if need > (h.memory_gb or 0.0):
            return (), set(self.slot_held)  # it can never fit: the host refuses it visibly
        if need <= self.free_gb:
            return (), set(self.slot_held)
        if need > self.room_all:
            return None
        out: list[str] = []
        free = self.free_gb
        for m in self.idle_free + self.idle_queued:
            out.append(m)
            free += h.sizes_gb.get(m, 0.0)
            if need <= free:
                break
        return tuple(out), set(out[len(self.idle_free):]) | self.slot_held

    def floor(self, model: str) -> float:
        """The rank of the best queued job a load of `model` here must outweigh, at least
        (-inf: it displaces nobody; inf: it cannot fit)."""
        if not self.exact:
            return -math.inf
        return self.floor_fits if self.h.sizes_gb.get(model, 0.0) <= self.room_free \
            else self.floor_big

    @staticmethod
    def may_outweigh(rank: float, floor: float, ratio: float) -> bool:
        """A cheap necessary condition: could a job of `rank` outweigh, `ratio` to 1, queued
        work whose best job ranks at least `floor`?"""
        return floor == -math.inf or rank - floor > PRIORITY_DOUBLING * math.log2(ratio)
