"""Loaded model instances and the host's FIFO of requests waiting for a prediction slot.

A prediction needs a slot on the host (`slots_per_host`) and one on its instance
(`config.parallel`). Waiters are served first come, first served among those whose instance has a
free slot, so a queued request for a busy model does not block one for an idle model behind it
once a host slot frees.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from botcluster.sim.errors import Evicted
from botcluster.sim.spec import ModelSpec
from botcluster.sim.stats import HostStats


@dataclass(eq=False)
class Instance:
    """One loaded (or loading) copy of a model. `id` is the key, then `key:2`, `key:3`, ..."""

    id: str
    model: ModelSpec
    parallel: int
    context_length: int
    jit: bool
    ttl_s: float | None
    last_used: float
    loaded: bool = False
    fresh: bool = False  # loaded, no request served yet (for the lost-first-request hazard)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    active: int = 0
    running: set[asyncio.Task[object]] = field(default_factory=set)  # generating on it now
    unloaded: bool = False
    doomed: bool = False  # its load collided with another model's (concurrent_loads_abort)

    @property
    def key(self) -> str:
        return self.model.key

    @property
    def size_gb(self) -> float:
        return self.model.size_gb


@dataclass(eq=False)
class Waiter:
    instance: Instance
    future: asyncio.Future[None]
    since: float


class SlotQueue:
    """Grants prediction slots in FIFO order under the host and instance limits."""

    def __init__(self, slots_per_host: int, stats: HostStats) -> None:
        self.slots = slots_per_host
        self.active = 0
        self._waiters: deque[Waiter] = deque()
        self._stats = stats

    def waiting_for(self, instance: Instance) -> int:
        return sum(1 for w in self._waiters if w.instance is instance)

    async def acquire(self, instance: Instance, now: float) -> None:
        """Wait for a slot on the host and on `instance`; Evicted if the instance goes away."""
        loop = asyncio.get_running_loop()
        waiter = Waiter(instance, loop.create_future(), now)
        self._waiters.append(waiter)
        self._stats.enqueue()
        try:
            self.grant()
            await waiter.future
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled() \
                    and waiter.future.exception() is None:
                self.release(instance)  # granted, then cancelled before we could use it
            raise
        finally:
            self._stats.queued -= 1

    def grant(self) -> None:
        """Hand free slots to the earliest eligible waiters."""
        if self.active >= self.slots:
            return
        for waiter in list(self._waiters):
            if self.active >= self.slots:
                return
            inst = waiter.instance
            if inst.loaded and inst.active < inst.parallel and not waiter.future.done():
                self._waiters.remove(waiter)
                self.active += 1
                inst.active += 1
                waiter.future.set_result(None)

    def release(self, instance: Instance) -> None:
        self.active -= 1
        instance.active -= 1
        self.grant()

    def fail_waiters(self, instance: Instance) -> int:
        """Fail every request queued for `instance` (it was unloaded). Returns how many."""
        failed = [w for w in self._waiters if w.instance is instance]
        for w in failed:
            self._waiters.remove(w)
            if not w.future.done():
                w.future.set_exception(Evicted(f'model "{instance.id}" was unloaded'))
        return len(failed)
