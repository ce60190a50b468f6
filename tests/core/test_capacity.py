"""The capacity model (ARCHITECTURE.md "Scheduling"): slots per loaded instance under a host cap,
a load lane on hosts that load while they generate, pinned models. In-process, fake clock."""

from __future__ import annotations

from botcluster.core.cluster import HostReport
from botcluster.core.dispatcher import Dispatcher
from botcluster.core.jobs import Claim
from tests.core.helpers import Clock, dispatcher, entity, host, job

TWO = [entity("e1", "m1"), entity("e2", "m2")]


def _claims(d: Dispatcher, limit: int = 20) -> list[Claim]:
    out = []
    while len(out) < limit and (c := d.claim("w")) is not None:
        out.append(c)
    return out


def _two_models_queued(d: Dispatcher, each: int = 3) -> None:
    d.offer([job(f"a{i}", "m1", "e1") for i in range(each)]
            + [job(f"b{i}", "m2", "e2") for i in range(each)])


def test_two_instances_of_parallel_2_under_a_cap_of_4_run_4_at_once() -> None:
    d = dispatcher([host("h", slots=4, loaded=("m1", "m2"), parallel={"m1": 2, "m2": 2})],
                   entities=TWO)
    _two_models_queued(d)
    claims = _claims(d)
    assert len(claims) == 4
    assert sorted(c.job.model for c in claims) == ["m1", "m1", "m2", "m2"]


def test_a_host_capped_at_1_runs_1_whatever_its_instances_say() -> None:
    d = dispatcher([host("h", slots=1, loaded=("m1", "m2"), parallel={"m1": 4, "m2": 4})],
                   entities=TWO)
    _two_models_queued(d)
    assert len(_claims(d)) == 1


def test_a_report_of_instance_slots_never_raises_the_hosts_cap() -> None:
    d = dispatcher([host("h", slots=1)], entities=TWO)
    d.report_host(HostReport("h", up=True, loaded={"m1": 4096, "m2": 4096},
                             parallel={"m1": 4, "m2": 4}))
    _two_models_queued(d)
    assert len(_claims(d)) == 1
    assert d.hosts["h"].slots == 1


def test_an_instance_runs_no_more_than_its_own_slots() -> None:
    d = dispatcher([host("h", slots=8, loaded=("m1",), parallel={"m1": 2})])
    d.offer([job(f"a{i}") for i in range(5)])
    assert len(_claims(d)) == 2


def test_a_load_in_the_load_lane_leaves_the_generation_slots_to_generation() -> None:
    sizes = {"m1": 4.0, "m2": 4.0}
    d = dispatcher([host("h", slots=2, loaded=("m1",), memory_gb=64, sizes=sizes,
                         parallel={"m1": 2}, load_lane=True)], entities=TWO)
    d.offer([job(f"a{i}", "m1", "e1") for i in range(3)] + [job("b0", "m2", "e2")])
    claims = _claims(d)
    assert sorted((c.job.model, c.lease.load) for c in claims) == [
        ("m1", False), ("m1", False), ("m2", True)]
    assert d.hosts["h"].inflight == 2, "the load holds no generation slot"
    load = next(c for c in claims if c.lease.load)
    d.load_finished(load.lease.lease_id, True, 4096)
    assert d.hosts["h"].running["m2"] == 1, "loaded: its job now generates"


def test_a_load_on_a_host_that_cannot_load_while_generating_takes_a_slot() -> None:
    sizes = {"m1": 4.0, "m2": 4.0}
    d = dispatcher([host("h", slots=2, loaded=("m1",), memory_gb=64, sizes=sizes,
                         parallel={"m1": 2}, load_lane=False)], entities=TWO)
    d.offer([job("a0", "m1", "e1"), job("b0", "m2", "e2"), job("a1", "m1", "e1", at=2e6)])
    claims = _claims(d)
    assert len(claims) == 2 and any(c.lease.load for c in claims)
    assert d.hosts["h"].inflight == 2


def test_a_failed_load_in_the_load_lane_gives_back_nothing_it_did_not_take() -> None:
    d = dispatcher([host("h", slots=1, loaded=("m1",), parallel={"m1": 1}, load_lane=True,
                         memory_gb=64, sizes={"m1": 4.0, "m2": 4.0})], entities=TWO)
    d.offer([job("a0", "m1", "e1"), job("b0", "m2", "e2")])
    claims = _claims(d)
    assert len(claims) == 2 and d.hosts["h"].inflight == 1
    load = next(c for c in claims if c.lease.load)
    d.load_finished(load.lease.lease_id, False)
    d.release(load.lease.lease_id, "load failed")
    assert d.hosts["h"].inflight == 1, "the running job still holds its slot"
    assert d.hosts["h"].loading == set()


def test_a_pinned_model_is_never_evicted() -> None:
    clock = Clock()
    sizes = {"m1": 10.0, "m2": 10.0}
    d = dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=10, sizes=sizes,
                         pinned=("m1",))], entities=TWO, clock=clock)
    d.offer([job("b0", "m2", "e2", priority=100, at=clock.now - 10_000)])
    assert d.claim("w") is None, "m1 is pinned: m2 cannot take its memory"
    # Unpinned, the same idle model makes room at once.
    d2 = dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=10, sizes=sizes)],
                    entities=TWO, clock=clock)
    d2.offer([job("b0", "m2", "e2")])
    c = d2.claim("w")
    assert c is not None and c.lease.evict == ("m1",)
