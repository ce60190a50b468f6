"""Decisions by expected completion time (ARCHITECTURE.md "Scheduling"), each rule in-process.

Figures at the seeded speeds (`core/speeds.py`): generation 0.5 + 200/30 = 7.2 s a job, loads at
2 GB/s, 4 GB where a size is unknown."""

from __future__ import annotations

from botcluster.core.dispatcher import Dispatcher
from tests.core.helpers import Clock, dispatcher, entity, host, job

TWO = [entity("e1", "m1"), entity("e2", "m2")]


def _replica_case(generation_s: float) -> Dispatcher:
    """m1 loaded on `a` (one slot, busy) with two more queued; `b` could load it in 2 s."""
    d = dispatcher([host("a", slots=1, loaded=("m1",)), host("b", slots=1)])
    for h in d.hosts.values():
        h.speeds.generation_s = generation_s
    d.offer([job(f"j{i}") for i in range(3)])
    first = d.claim("w")
    assert first is not None and first.lease.host == "a"
    return d


def test_a_replica_is_loaded_only_when_it_serves_the_queue_sooner() -> None:
    # 2 queued at 1 s each: a drains them in 2 s, before a replica could answer (2 + 1 s).
    assert _replica_case(generation_s=1.0).claim("w") is None
    # At 10 s each a waits 20 s; the replica answers in 12 s.
    c = _replica_case(generation_s=10.0).claim("w")
    assert c is not None and c.lease.host == "b" and c.lease.load


def test_a_growing_queue_is_preloaded_while_the_other_slots_generate() -> None:
    d = dispatcher([host("h", slots=2, loaded=("m1",), memory_gb=64, load_lane=True,
                         sizes={"m1": 8, "m2": 8})], entities=TWO)
    d.offer([job("a0", "m1", "e1"), job("a1", "m1", "e1")])
    assert d.claim("w") is not None and d.claim("w") is not None
    assert d.hosts["h"].free == 0
    d.offer([job("b0", "m2", "e2")])
    c = d.claim("w")
    assert c is not None and c.lease.load and c.job.model == "m2", "loaded beside generation"


def test_a_serialized_host_is_not_held_idle_by_a_load_of_equal_priority() -> None:
    """One slot that must hold the load: the hit (7.2 s) goes before the load's 2 s + 7.2 s."""
    d = dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=64,
                         sizes={"m1": 4, "m2": 4})], entities=TWO)
    d.offer([job("load", "m2", "e2", at=999_990.0), job("hit", "m1", "e1")])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "hit"
    # The same host loading beside its slot: the load costs the hit nothing, both go.
    d2 = dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=64, load_lane=True,
                          sizes={"m1": 4, "m2": 4})], entities=TWO)
    d2.offer([job("load", "m2", "e2", at=999_990.0), job("hit", "m1", "e1")])
    got = {c.job.message_id for c in (d2.claim("w"), d2.claim("w")) if c is not None}
    assert got == {"load", "hit"}


def test_a_job_that_needs_an_eviction_does_not_starve_behind_a_busy_model() -> None:
    """m1 gets a new job every 7 s for ever and one slot serves them; m2's job needs m1's
    memory. Ageing makes it outweigh m1's ever newer head: it goes within about 130 s."""
    clock = Clock()
    d = dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=10,
                         sizes={"m1": 10, "m2": 10})], entities=TWO, clock=clock)
    d.offer([job("m2-job", "m2", "e2", at=clock.now), job("m1-0", "m1", "e1", at=clock.now)])
    for step in range(1, 60):
        c = d.claim("w")
        assert c is not None
        if c.job.model == "m2":
            assert 90 < step * 7 < 200, step
            return
        clock.advance(7)
        d.offer([job(f"m1-{step}", "m1", "e1", at=clock.now)])
        d.ack(c.lease.lease_id, "replied")
    raise AssertionError("m2's job starved")


def test_measured_speeds_replace_the_seeds() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=2, memory_gb=64, sizes={"m1": 8.0})], clock=clock)
    d.offer([job("j1")])
    c = d.claim("w")
    assert c is not None and c.lease.load
    clock.advance(2.0)  # 8 GB in 2 s: 4 GB/s against the seeded 2
    d.load_finished(c.lease.lease_id, True, 4096)
    clock.advance(1.0)
    d.generation_done(c.lease.lease_id)
    speeds = d.hosts["h"].speeds
    # The first measurement replaces the seed (a guess); the next ones blend in.
    assert speeds.load_gb_per_s == 4.0 and speeds.loads_seen == 1
    assert speeds.generation_s == 1.0 and speeds.generations_seen == 1
    speeds.observe_generation(2.0)
    assert 1.0 < speeds.generation_s < 2.0


def test_an_eviction_takes_a_model_without_queued_work_before_one_with() -> None:
    clock = Clock()
    h = host("h", slots=2, loaded=("m1", "m3"), memory_gb=20,
             sizes={"m1": 10, "m2": 10, "m3": 10})
    h.last_used = {"m1": clock.now - 100, "m3": clock.now - 1}  # m1 is the older
    d = dispatcher([h], entities=[*TWO, entity("e3", "m3")], clock=clock)
    d.offer([job("a0", "m1", "e1", at=clock.now - 50), job("b0", "m2", "e2", at=clock.now - 60)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "b0" and c.lease.evict == ("m3",)


def test_a_model_running_on_one_host_may_be_evicted_from_another() -> None:
    sizes = {"m1": 10.0, "m2": 10.0}
    d = dispatcher([host("a", slots=1, loaded=("m1",), memory_gb=10, sizes=sizes),
                    host("b", slots=1, loaded=("m1",), memory_gb=10, sizes=sizes)],
                   entities=TWO)
    d.offer([job("a0", "m1", "e1")])
    first = d.claim("w")
    assert first is not None and first.lease.host == "a"
    d.offer([job("b0", "m2", "e2")])
    c = d.claim("w")
    assert c is not None and c.lease.host == "b" and c.lease.evict == ("m1",)


def test_under_a_backlog_a_replica_waits_for_the_work_its_load_would_delay() -> None:
    """The same queue of ten for m1 (a drains it in 100 s at 10 s each; b's replica, a 16 s
    load, answers in 26 s) gets a replica on an idle cluster, and none when forty other jobs
    wait: b's share of them (20) would each wait 16 s more (320 s), for 185 s saved."""
    d = _replica_case(generation_s=10.0)
    _slow_loads(d)
    d.offer([job(f"x{i}") for i in range(8)])
    c = d.claim("w")
    assert c is not None and c.lease.host == "b" and c.lease.load
    busy = _replica_case(generation_s=10.0)
    _slow_loads(busy)
    busy.offer([job(f"x{i}") for i in range(8)])
    busy.offer([job(f"o{i}", f"m{2 + i % 20}", "e1") for i in range(40)])
    c = busy.claim("w")
    assert c is None or c.job.model != "m1", "a replica under a backlog"


def _slow_loads(d: Dispatcher) -> None:
    for h in d.hosts.values():
        h.sizes_gb["m1"] = 16.0
        h.speeds.load_gb_per_s = 1.0


def test_under_a_backlog_an_eviction_of_queued_work_needs_a_larger_lead() -> None:
    """80 against 50 evicts m1 and its queued job on an idle cluster; with forty more jobs
    waiting, the reload it forces would delay them all, and the urgent job waits."""
    sizes = {"m1": 10.0, "m2": 10.0}
    d = dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=10, sizes=sizes)],
                   entities=TWO)
    d.offer([job("urgent", "m2", "e2", priority=80), job("hit", "m1", priority=50)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "urgent"
    d2 = dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=10, sizes=sizes)],
                    entities=TWO)
    d2.offer([job("urgent", "m2", "e2", priority=80), job("hit", "m1", priority=50)]
             + [job(f"o{i}", f"m{3 + i % 20}", "e1", at=2e6) for i in range(40)])
    c = d2.claim("w")
    assert c is not None and c.job.message_id == "hit"
