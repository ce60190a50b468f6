"""The dispatcher's scheduling and lease rules, each driven in-process with a fake clock."""

from __future__ import annotations

from botcluster.core.dispatcher import Dispatcher, DispatcherSettings
from tests.core.helpers import Clock, dispatcher, entity, host, job


def test_priority_higher_first_then_oldest() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=3, loaded=("m1",))], clock=clock)
    d.offer([job("low", priority=10, at=clock.now - 5), job("old50", at=clock.now - 3),
             job("new50", at=clock.now - 1), job("high", priority=90, at=clock.now)])
    order = []
    for _ in range(3):
        c = d.claim("w")
        assert c is not None
        order.append(c.job.message_id)
        d.ack(c.lease.lease_id, "replied")
    assert order == ["high", "old50", "new50"]


def test_ageing_lets_a_low_priority_job_win_in_the_end() -> None:
    clock = Clock()
    d = dispatcher([host("h", loaded=("m1",))], clock=clock)
    d.offer([job("low", priority=10, at=clock.now - 1000)])  # waited 1000 s: +100 points
    d.offer([job("fresh-high", priority=90, at=clock.now)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "low"


def test_a_host_with_the_model_loaded_is_preferred() -> None:
    d = dispatcher([host("a", slots=2), host("b", slots=2, loaded=("m1",))])
    d.offer([job("j1")])
    c = d.claim("w")
    assert c is not None and c.lease.host == "b" and not c.lease.load


def test_two_jobs_for_an_unloaded_model_cause_one_load() -> None:
    d = dispatcher([host("a", slots=2), host("b", slots=2)])
    d.offer([job("j1"), job("j2")])
    first = d.claim("w")
    assert first is not None and first.lease.load
    assert d.claim("w") is None, "no second load while the first is under way"
    d.load_finished(first.lease.lease_id, True, 4096)
    second = d.claim("w")
    assert second is not None and not second.lease.load
    assert second.lease.host == first.lease.host


def test_eviction_never_hits_a_model_with_running_work() -> None:
    sizes = {"m1": 10.0, "m2": 10.0}
    d = dispatcher([host("h", slots=2, loaded=("m1",), memory_gb=15, sizes=sizes)],
                   entities=[entity("e1", "m1"), entity("e2", "m2")])
    d.offer([job("a", "m1")])
    running = d.claim("w")
    assert running is not None
    d.offer([job("b", "m2", "e2")])
    assert d.claim("w") is None, "m1 is generating: it must not be evicted"
    d.ack(running.lease.lease_id, "replied")
    c = d.claim("w")
    assert c is not None and c.lease.load and c.lease.evict == ("m1",)


def test_eviction_takes_the_least_recently_used_idle_model() -> None:
    sizes = {"m1": 10.0, "m2": 10.0, "m3": 10.0}
    clock = Clock()
    h = host("h", slots=1, loaded=("m1", "m2"), memory_gb=20, sizes=sizes)
    h.last_used = {"m1": clock.now - 10, "m2": clock.now - 100}
    d = dispatcher([h], entities=[entity("e3", "m3")], clock=clock)
    d.offer([job("c", "m3", "e3")])
    c = d.claim("w")
    assert c is not None and c.lease.evict == ("m2",)


def test_out_of_memory_makes_the_next_load_evict_one_idle_model() -> None:
    h = host("h", slots=1, loaded=("m1",))  # no memory budget known
    d = dispatcher([h], entities=[entity("e2", "m2")])
    d.offer([job("b", "m2", "e2")])
    first = d.claim("w")
    assert first is not None and first.lease.load and first.lease.evict == ()
    d.load_finished(first.lease.lease_id, False, out_of_memory=True)
    d.release(first.lease.lease_id, "out of memory", count=False, delay_s=0)
    retry = d.claim("w")
    assert retry is not None and retry.lease.evict == ("m1",)


def test_rate_limit_defers_and_never_drops() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=4, loaded=("m1",))],
                   entities=[entity(min_seconds_between_posts=10)], clock=clock)
    d.offer([job("j1"), job("j2")])
    c1 = d.claim("w")
    assert c1 is not None
    assert d.claim("w") is None
    assert d.view()["queue"] == {"ready": 0, "deferred": 1, "claimed": 1}
    clock.advance(9.9)
    assert d.claim("w") is None
    clock.advance(0.2)
    c2 = d.claim("w")
    assert c2 is not None and c2.job.message_id == "j2"


def test_posts_per_minute_window() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=10, loaded=("m1",))],
                   entities=[entity(max_posts_per_minute=3)], clock=clock, lease_s=1000)
    d.offer([job(f"j{i}") for i in range(5)])
    assert sum(d.claim("w") is not None for _ in range(5)) == 3
    clock.advance(60.1)
    assert sum(d.claim("w") is not None for _ in range(5)) == 2


def test_dedup_across_polls_and_after_the_answer() -> None:
    d = dispatcher([host("h", loaded=("m1",))])
    assert d.offer([job("j1"), job("j1")]) == 1
    c = d.claim("w")
    assert c is not None
    assert d.offer([job("j1")]) == 0, "claimed"
    d.ack(c.lease.lease_id, "replied")
    assert d.offer([job("j1")]) == 0, "answered"
    d.forget(["from-journal"])
    assert d.offer([job("from-journal")]) == 0


def test_expired_lease_returns_the_job_and_the_late_ack_finishes_it_once() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=2, loaded=("m1",))], clock=clock, lease_s=5)
    d.offer([job("j1")])
    first = d.claim("w1")
    assert first is not None
    clock.advance(6)
    second = d.claim("w2")
    assert second is not None and second.job.message_id == "j1"
    assert d.view()["reclaimed"] == 1
    d.ack(first.lease.lease_id, "replied", message_id="j1")  # the slow worker finished
    assert d.idle()
    assert d.view()["hosts"]["h"]["inflight"] == 0  # type: ignore[index]


def test_heartbeat_keeps_a_lease_alive() -> None:
    clock = Clock()
    d = dispatcher([host("h", loaded=("m1",))], clock=clock, lease_s=5)
    d.offer([job("j1")])
    c = d.claim("w1")
    assert c is not None
    for _ in range(5):
        clock.advance(4)
        assert d.heartbeat("w1") == 1
    assert d.holds(c.lease.lease_id)


def test_a_dead_workers_leases_return_at_once_keeping_reply_id() -> None:
    d = dispatcher([host("h", slots=2, loaded=("m1",))])
    d.offer([job("j1")])
    c = d.claim("w1")
    assert c is not None
    d.note(c.lease.lease_id, reply_id="r-1", server_claimed=True)
    assert d.worker_died("w1") == 1
    again = d.claim("w2")
    assert again is not None
    assert again.job.reply_id == "r-1" and again.job.server_claimed


def test_out_of_attempts_is_dead_lettered() -> None:
    clock = Clock()
    d = dispatcher([host("h", loaded=("m1",))], clock=clock, max_attempts=2)
    d.offer([job("j1")])
    c = d.claim("w")
    assert c is not None
    assert not d.release(c.lease.lease_id, "boom").dead
    clock.advance(10)
    c = d.claim("w")
    assert c is not None
    result = d.release(c.lease.lease_id, "boom")
    assert result.dead and result.attempts == 2
    assert d.idle()
    assert d.snapshot()["outcomes"] == [("e1", "dead_lettered")]


def test_a_down_host_gets_no_traffic_then_one_probe_then_traffic() -> None:
    clock = Clock()
    d = dispatcher([host("a", slots=2, loaded=("m1",))], clock=clock)
    d.host_failed("a", "connection refused")
    d.offer([job("j1"), job("j2")])
    assert d.claim("w") is None
    clock.advance(2.1)  # past the first backoff: half-open, one probe
    probe = d.claim("w")
    assert probe is not None and d.claim("w") is None
    d.host_ok("a")
    assert d.claim("w") is not None


def test_a_long_queue_gets_a_second_replica() -> None:
    d = dispatcher([host("a", slots=1, loaded=("m1",)), host("b", slots=1)])
    d.offer([job(f"j{i}") for i in range(4)])
    first = d.claim("w")
    second = d.claim("w")
    assert first is not None and second is not None
    assert {first.lease.host, second.lease.host} == {"a", "b"}
    assert second.lease.load


def _room_for_one_model() -> Dispatcher:
    """One slot, m1 loaded, and memory for m1 or m2 but not both: m2 needs a swap."""
    return dispatcher([host("h", slots=1, loaded=("m1",), memory_gb=10,
                            sizes={"m1": 10, "m2": 10})],
                      entities=[entity("e1", "m1"), entity("e2", "m2")])


def test_a_hit_goes_ahead_of_a_slightly_better_job_that_needs_a_swap() -> None:
    d = _room_for_one_model()
    d.offer([job("swap", "m2", "e2", priority=60), job("hit", "m1", priority=50)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "hit"


def test_a_much_better_job_may_force_the_swap() -> None:
    d = _room_for_one_model()
    d.offer([job("swap", "m2", "e2", priority=95), job("hit", "m1", priority=50)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "swap" and c.lease.evict == ("m1",)


def test_an_urgent_job_waits_rather_than_evict_a_model_with_queued_work() -> None:
    """Evicting m1 while it has a queued job costs the swap's load (5 s at the seeded 2 GB/s),
    its generation (7.2 s seeded) and m1's reload (5 s): 17.2 s of the host against the hit's
    7.2 s. A job goes first only if it weighs 2.4 times as much: a lead of 12.6 points."""
    d = _room_for_one_model()
    d.offer([job("urgent", "m2", "e2", priority=62), job("hit", "m1", priority=50)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "hit"
    d.ack(c.lease.lease_id, "replied")
    c = d.claim("w")  # m1 has nothing queued now: the urgent job's load may evict it
    assert c is not None and c.job.message_id == "urgent" and c.lease.evict == ("m1",)
    d2 = _room_for_one_model()
    d2.offer([job("urgent", "m2", "e2", priority=80), job("hit", "m1", priority=50)])
    c = d2.claim("w")
    assert c is not None and c.job.message_id == "urgent" and c.lease.evict == ("m1",)


def test_the_price_of_an_eviction_follows_the_measured_load_speed() -> None:
    """The same 12-point lead that waits at 2 GB/s swaps at once on a host measured to load
    at 20 GB/s: the swap then costs 8.2 s of the host instead of 17.2 s."""
    d = _room_for_one_model()
    d.hosts["h"].speeds.load_gb_per_s = 20.0
    d.offer([job("urgent", "m2", "e2", priority=62), job("hit", "m1", priority=50)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "urgent" and c.lease.evict == ("m1",)


def test_an_urgent_job_swaps_out_an_idle_model_ahead_of_a_hit_elsewhere() -> None:
    clock = Clock()
    d = dispatcher([host("a", slots=1, loaded=("m1",), memory_gb=10,
                         sizes={"m1": 10, "m2": 10}),
                    host("b", slots=1, loaded=("m3",), memory_gb=10,
                         sizes={"m2": 10, "m3": 10})],
                   entities=[entity("e1", "m1"), entity("e2", "m2")], clock=clock)
    d.offer([job("urgent", "m2", "e2", priority=80), job("hit", "m1", priority=50)])
    c = d.claim("w")
    assert c is not None and c.job.message_id == "urgent"
    assert c.lease.host == "b" and c.lease.evict == ("m3",)


def test_post_permits_space_the_posts_whatever_the_generation_took() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=4, loaded=("m1",))],
                   entities=[entity(min_seconds_between_posts=2)], clock=clock)
    start = clock.now
    assert d.post_permit("e1") == start
    clock.advance(0.5)  # the next generation was much shorter than the spacing
    assert d.post_permit("e1") == start + 2
    assert d.post_permit("e1") == start + 4  # permits queue up in order, exactly spaced
    assert d.post_permit("unlimited-or-unknown") == clock.now


def test_a_posted_reply_survives_the_worker_so_it_is_never_posted_twice() -> None:
    d = dispatcher([host("h", slots=2, loaded=("m1",))])
    d.offer([job("j1")])
    c = d.claim("w1")
    assert c is not None
    d.note(c.lease.lease_id, reply_id="r-1", reply_posted=True)
    d.worker_died("w1")  # died between the POST and completing the message
    again = d.claim("w2")
    assert again is not None and again.job.reply_posted and again.job.reply_id == "r-1"


def test_hosts_to_read_again_after_a_load_an_eviction_or_a_failure() -> None:
    d = dispatcher([host("a", slots=2), host("b", slots=2, loaded=("m1",))])
    d.offer([job("j1"), job("j2", "m2")])
    assert d.take_dirty() == []
    c = d.claim("w")
    assert c is not None
    d.release(c.lease.lease_id, "HTTP 500", delay_s=0)
    assert d.take_dirty() == [c.lease.host]
    d.host_failed("b", "refused")
    d.model_gone("b", "m1")
    assert d.take_dirty() == [], "a host marked down waits for the regular poll"


def test_a_stale_host_report_never_brings_back_a_model_being_evicted_or_loaded() -> None:
    from botcluster.core.cluster import HostReport

    sizes = {"m1": 10.0, "m2": 10.0}
    d = dispatcher([host("h", slots=2, loaded=("m1",), memory_gb=10, sizes=sizes)],
                   entities=[entity("e1", "m1"), entity("e2", "m2")])
    d.offer([job("b", "m2", "e2")])
    load = d.claim("w")
    assert load is not None and load.lease.evict == ("m1",)
    # Read before the worker unloaded m1 or loaded m2:
    d.report_host(HostReport(host="h", up=True, loaded={"m1": 4096, "m2": 4096}))
    d.offer([job("a", "m1")])
    assert d.claim("w") is None, "m1 is going away and m2 is not ready: no hit for either"
    d.load_finished(load.lease.lease_id, True, 4096)
    d.report_host(HostReport(host="h", up=True, loaded={"m2": 4096}))
    assert d.view()["hosts"]["h"]["loaded"] == {"m2": 4096}  # type: ignore[index]


def test_out_of_memory_with_nothing_to_evict_tries_again_then_ends() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=1)], entities=[entity("e2", "m2")], max_attempts=2,
                   clock=clock)
    d.offer([job("b", "m2", "e2")])
    first = d.claim("w")
    assert first is not None and first.lease.load
    d.load_finished(first.lease.lease_id, False, out_of_memory=True)
    d.release(first.lease.lease_id, "out of memory", count=False, delay_s=0)
    second = d.claim("w")
    assert second is not None, "the host is tried again, not shunned forever"
    d.load_finished(second.lease.lease_id, False, out_of_memory=True)
    assert d.release(second.lease.lease_id, "out of memory again").dead is False
    clock.advance(10)  # past the retry backoff
    third = d.claim("w")
    assert third is not None
    assert d.release(third.lease.lease_id, "out of memory again").dead, "it ends, visibly"


def test_a_late_claim_of_a_dead_worker_is_not_kept_alive_by_its_replacement() -> None:
    clock = Clock()
    d = dispatcher([host("h", loaded=("m1",))], clock=clock, lease_s=5)
    d.offer([job("j1")])
    d.worker_died("w1")  # the old process of w1 is dead...
    late = d.claim("w1", pid=111)  # ...but the manager serves its last request only now
    assert late is not None
    for _ in range(3):
        clock.advance(4)
        d.heartbeat("w1", pid=222)  # the replacement, same worker id
    again = d.claim("w1", pid=222)
    assert again is not None and again.job.message_id == "j1", "the late lease expired"


def test_a_wall_clock_step_expires_no_lease_and_hangs_no_worker() -> None:
    wall, mono = Clock(), Clock(now=50.0)
    d = Dispatcher(DispatcherSettings(lease_s=30), [host("h", slots=2, loaded=("m1",))],
                   {"e1": entity()}, clock=wall, lease_clock=mono)
    d.offer([job("j1"), job("j2")])
    first = d.claim("w1")
    d.heartbeat("w1")
    wall.advance(3600)  # NTP steps the wall clock an hour forward
    second = d.claim("w2")
    assert first is not None and second is not None
    assert second.job.message_id == "j2", "j1's lease survived the step"
    assert d.stale_workers(older_than_s=30) == [] and d.reclaimed == 0
    mono.advance(31)  # real time passes without a heartbeat: now the leases expire
    assert sorted(d.stale_workers(older_than_s=30)) == ["w1", "w2"]
    d.offer([])
    again = d.claim("w3")
    assert again is not None and d.reclaimed == 2
