"""Placement around a host that is down: in-process checks of `core.cluster`'s choices.

The end-to-end counterpart is `test_routing.test_a_dead_host_gets_no_traffic_until_it_recovers`.
"""

from __future__ import annotations

from botcluster.core.cluster import HostView, find_load, find_loaded, mark_down

M = "m1"


def _half_open(name: str, slots: int = 4, loaded: tuple[str, ...] = (M,)) -> HostView:
    """A host that failed once at t=0 and is past its first backoff at t=10."""
    h = HostView(name=name, slots=slots, loaded=dict.fromkeys(loaded, 0))
    mark_down(h, "connection refused", now=0.0)
    assert h.usable(10.0) and not h.up
    return h


def test_a_half_open_host_is_not_probed_while_a_healthy_one_has_the_model() -> None:
    """The probe of a down host costs a real job a failed attempt: a healthy host with the
    model loaded takes the job even with fewer free slots, whatever the order of the hosts."""
    for order in (0, 1):
        down, up = _half_open("a"), HostView(name="b", slots=1, loaded={M: 0})
        hosts = [down, up] if order == 0 else [up, down]
        assert find_loaded(hosts, M, now=10.0) is up
        up.inflight = 1  # the healthy host is full: now the half-open one gets its probe
        assert find_loaded(hosts, M, now=10.0) is down


def test_a_load_goes_to_a_healthy_host_before_a_half_open_one() -> None:
    down, up = _half_open("a", loaded=()), HostView(name="b", slots=1)
    placement = find_load([down, up], M, now=10.0, busy_models=set())
    assert placement is not None and placement.host == "b"
    up.inflight = 1
    placement = find_load([down, up], M, now=10.0, busy_models=set())
    assert placement is not None and placement.host == "a"


def test_a_down_host_within_its_backoff_gets_nothing() -> None:
    down = _half_open("a")
    assert find_loaded([down], M, now=1.0) is None
    assert find_load([_half_open("a", loaded=())], M, now=1.0, busy_models=set()) is None
