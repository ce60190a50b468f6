"""Builders for dispatcher tests: a settable clock, hosts, entities, jobs."""

from __future__ import annotations

from dataclasses import dataclass

from botcluster.config.model import Entity, RateLimits
from botcluster.core.cluster import HostView
from botcluster.core.dispatcher import Dispatcher, DispatcherSettings
from botcluster.core.jobs import Job


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def entity(eid: str = "e1", model: str = "m1", **limits: float) -> Entity:
    return Entity(id=eid, username=eid.upper(), model=model,
                  rate_limits=RateLimits(**limits))  # type: ignore[arg-type]


def host(name: str, slots: int = 1, loaded: tuple[str, ...] = (), memory_gb: float | None = None,
         sizes: dict[str, float] | None = None, *, parallel: dict[str, int] | None = None,
         load_lane: bool = False, pinned: tuple[str, ...] = ()) -> HostView:
    """`slots`: the host-wide cap; `parallel`: instance slots by model (default: the cap)."""
    return HostView(name=name, slots=slots, memory_gb=memory_gb,
                    loaded=dict.fromkeys(loaded, 4096), sizes_gb=dict(sizes or {}),
                    parallel=dict(parallel or {}), load_lane=load_lane,
                    pinned=frozenset(pinned))


def dispatcher(hosts: list[HostView], entities: list[Entity] | None = None,
               clock: Clock | None = None, **settings: float) -> Dispatcher:
    ents = entities or [entity()]
    clock = clock or Clock()
    return Dispatcher(DispatcherSettings(**settings),  # type: ignore[arg-type]
                      hosts, {e.id: e for e in ents}, clock=clock, lease_clock=clock)


def job(mid: str, model: str = "m1", entity_id: str = "e1", priority: int = 50,
        at: float = 1_000_000.0) -> Job:
    return Job(message_id=mid, entity=entity_id, model=model, priority=priority,
               enqueued_at=at, message=None)
