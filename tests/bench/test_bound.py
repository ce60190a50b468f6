"""The lower bound on tiny cases computed by hand (see botcluster/bench/bound.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from botcluster.bench.bound import exclusive, lower_bound, reply_tokens
from botcluster.bench.workload import Request
from botcluster.sim.spec import ClusterSpec, HostSpec, ModelSpec


def host(name: str = "h1", memory_gb: float = 6.0, slots: int = 2, tps: float = 10.0,
         loaded_a: bool = True) -> HostSpec:
    # ttft 1 s, 10 tokens/s, loads at 2 GB/s: a 4 GB model loads in 2 s.
    return HostSpec(name=name, memory_gb=memory_gb, slots_per_host=slots, slots_per_model=slots,
                    ttft_s=1.0, tokens_per_s=tps, load_gb_per_s=2.0,
                    models=(ModelSpec("A", 4.0, loaded=loaded_a), ModelSpec("B", 4.0)))


def req(model: str, t: float = 0.0, i: int = 0, max_tokens: int = 20) -> Request:
    return Request(t=t, entity=f"e-{model}", model=model, prompt_tokens=10,
                   max_tokens=max_tokens, index=i)


def test_reply_tokens_expected_and_strict() -> None:
    assert reply_tokens(20) == 15.0  # uniform over [10, 20]
    assert reply_tokens(20, strict=True) == 10.0
    assert reply_tokens(1) == 1.0


def test_work_term_charges_an_exclusive_load_on_every_slot() -> None:
    # Each request: 1 + 15/10 = 2.5 s. B is not loaded anywhere and 4 + 4 > 6 GB, so its load
    # idles both slots for 2 s: (3 * 2.5 + 2 * 2) / 2 = 5.75.
    cluster = ClusterSpec(hosts=(host(),))
    b = lower_bound([req("A", i=0), req("A", i=1), req("B", i=2)], cluster)
    assert b.work_s == pytest.approx(5.75)
    assert b.arrivals_s == pytest.approx(3.75)
    assert b.longest_job_s == pytest.approx(4.5)  # load B (2 s) + 2.5 s
    assert b.last_arrival_s == pytest.approx(2.5)
    assert b.lower_bound_s == pytest.approx(5.75)
    assert b.unavoidable_loads == 1
    strict = lower_bound([req("A", i=0), req("A", i=1), req("B", i=2)], cluster, strict=True)
    assert strict.lower_bound_s == pytest.approx((3 * 2.0 + 4.0) / 2)


def test_a_load_that_can_overlap_generation_costs_no_slot_time() -> None:
    cluster = ClusterSpec(hosts=(host(memory_gb=10.0),))
    assert not exclusive(cluster.hosts[0], "B")
    b = lower_bound([req("A", i=0), req("A", i=1), req("B", i=2)], cluster)
    assert b.work_s == pytest.approx(3.75)
    assert b.lower_bound_s == pytest.approx(4.5)  # the longest job: load B, then answer it


def test_late_arrival_bounds_the_makespan() -> None:
    cluster = ClusterSpec(hosts=(host(),))
    b = lower_bound([req("A", i=0), req("A", t=100.0, i=1)], cluster)
    assert b.lower_bound_s == pytest.approx(102.5)


def test_work_arriving_late_is_bounded_from_its_arrival() -> None:
    # Four requests at t=10 on one slot: 10 + 4 * 2.5 = 20.
    cluster = ClusterSpec(hosts=(host(slots=1),))
    b = lower_bound([req("A", i=0)] + [req("A", t=10.0, i=i) for i in range(1, 5)], cluster)
    assert b.arrivals_s == pytest.approx(20.0)
    assert b.lower_bound_s == pytest.approx(20.0)


def test_service_time_is_the_fastest_host_that_has_the_model() -> None:
    # h2 is twice as fast (20 tokens/s): 1 + 15/20 = 1.75 s; capacity 2 slots in all.
    cluster = ClusterSpec(hosts=(host("h1", slots=1), host("h2", slots=1, tps=20.0)))
    b = lower_bound([req("A", i=0), req("A", i=1)], cluster)
    assert b.work_s == pytest.approx(1.75)
    assert b.last_arrival_s == pytest.approx(1.75)


def test_a_model_no_host_has_is_an_error() -> None:
    with pytest.raises(ValueError, match="no host"):
        lower_bound([req("C")], ClusterSpec(hosts=(host(),)))


def test_a_host_whose_loads_block_generation_pays_every_slot_for_a_load() -> None:
    # Room for A and B at once (12 GB), but nothing generates while B loads: the load idles both
    # slots for 2 s, as on a host that cannot hold both: (3 * 2.5 + 2 * 2) / 2 = 5.75.
    blocking = replace(host(memory_gb=12.0), load_blocks_generation=True)
    assert exclusive(blocking, "B")
    b = lower_bound([req("A", i=0), req("A", i=1), req("B", i=2)], ClusterSpec(hosts=(blocking,)))
    assert b.work_s == pytest.approx(5.75)


def test_a_load_slowdown_adds_no_slot_time_to_the_bound() -> None:
    # A host that is not generating loses nothing to a slowdown, so the bound cannot charge it.
    slowed = replace(host(memory_gb=12.0), load_slowdown=0.5)
    assert not exclusive(slowed, "B")
    b = lower_bound([req("A", i=0), req("A", i=1), req("B", i=2)], ClusterSpec(hosts=(slowed,)))
    assert b.work_s == pytest.approx(3.75)
