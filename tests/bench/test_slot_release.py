"""A lease gives its host slot back when generation ends (Dispatcher.generation_done).

Found by `botcluster bench`: the slot stayed taken while the worker posted the reply and
completed the message, so a one-slot host idled for those comments API calls on every job.
"""

from __future__ import annotations

from tests.core.helpers import dispatcher, host, job


def test_the_slot_is_free_after_generation_and_counted_once() -> None:
    d = dispatcher([host("h", slots=1, loaded=("m1",))])
    d.offer([job("a"), job("b")])
    first = d.claim("w")
    assert first is not None and d.claim("w") is None, "one slot"
    d.generation_done(first.lease.lease_id)
    second = d.claim("w")
    assert second is not None and second.lease.host == "h", "the slot is free while a posts"
    assert d.hosts["h"].inflight == 1
    d.ack(first.lease.lease_id, "replied")
    assert d.hosts["h"].inflight == 1, "acking a must not free b's slot"
    d.generation_done(second.lease.lease_id)
    d.generation_done(second.lease.lease_id)  # twice is once
    d.ack(second.lease.lease_id, "replied")
    assert d.hosts["h"].inflight == 0 and d.hosts["h"].running.get("m1") == 0
    assert not d.slot_freed


def test_a_failed_post_after_generation_retries_without_freeing_twice() -> None:
    d = dispatcher([host("h", slots=1, loaded=("m1",))])
    d.offer([job("a")])
    c = d.claim("w")
    assert c is not None
    d.generation_done(c.lease.lease_id)
    result = d.release(c.lease.lease_id, "post failed", delay_s=0.0)
    assert not result.dead and d.hosts["h"].inflight == 0
    again = d.claim("w")
    assert again is not None and again.job.message_id == "a"
    assert d.hosts["h"].inflight == 1


def test_a_dead_worker_after_generation_frees_nothing_twice() -> None:
    d = dispatcher([host("h", slots=2, loaded=("m1",))])
    d.offer([job("a"), job("b")])
    a, b = d.claim("w1"), d.claim("w2")
    assert a is not None and b is not None
    d.generation_done(a.lease.lease_id)
    assert d.worker_died("w1") == 1
    assert d.hosts["h"].inflight == 1, "only b's slot is still taken"
