"""Placement around a host that is down: in-process checks of `core.scheduler.pick`.

The end-to-end counterpart is `test_routing.test_a_dead_host_gets_no_traffic_until_it_recovers`.
"""

from __future__ import annotations

from botcluster.core.cluster import HostView, mark_down
from botcluster.core.jobs import Job
from botcluster.core.jobstore import JobStore
from botcluster.core.scheduler import pick

M = "m1"


def _half_open(name: str, slots: int = 4, loaded: tuple[str, ...] = (M,)) -> HostView:
    """A host that failed once at t=0 and is past its first backoff at t=10."""
    h = HostView(name=name, slots=slots, loaded=dict.fromkeys(loaded, 0))
    mark_down(h, "connection refused", now=0.0)
    assert h.usable(10.0) and not h.up
    return h


def _where(hosts: list[HostView], now: float) -> tuple[str, bool] | None:
    """(host, load?) that `pick` chooses for one queued job of model M."""
    store = JobStore()
    store.add(Job(message_id="j", entity="e", model=M, priority=50, enqueued_at=0.0,
                  message=None), now=0.0)
    chosen = pick(store, hosts, now, store.head)
    return None if chosen is None else (chosen.placement.host, chosen.placement.load)


def test_a_half_open_host_is_not_probed_while_a_healthy_one_has_the_model() -> None:
    """The probe of a down host costs a real job a failed attempt: a healthy host with the
    model loaded takes the job even with fewer free slots, whatever the order of the hosts."""
    for order in (0, 1):
        down, up = _half_open("a"), HostView(name="b", slots=1, loaded={M: 0})
        hosts = [down, up] if order == 0 else [up, down]
        assert _where(hosts, now=10.0) == ("b", False)
        up.inflight = 1  # the healthy host is full: now the half-open one gets its probe
        assert _where(hosts, now=10.0) == ("a", False)


def test_a_load_goes_to_a_healthy_host_before_a_half_open_one() -> None:
    down, up = _half_open("a", loaded=()), HostView(name="b", slots=1)
    assert _where([down, up], now=10.0) == ("b", True)
    up.inflight = 1
    assert _where([down, up], now=10.0) == ("a", True)


def test_a_down_host_within_its_backoff_gets_nothing() -> None:
    assert _where([_half_open("a")], now=1.0) is None
    assert _where([_half_open("a", loaded=())], now=1.0) is None
