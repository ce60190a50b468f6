"""The scheduler's invariants on random clusters and workloads, driven in-process with a fake
clock: no grant over a host's cap or an instance's slots, no eviction of a running or pinned
model, no memory over budget, and every job answered in the end (nothing starves)."""

from __future__ import annotations

import random

import pytest

from botcluster.core.cluster import HostView
from botcluster.core.dispatcher import Dispatcher
from botcluster.core.jobs import Claim
from tests.core.helpers import Clock, dispatcher, entity, job

MODELS = [f"m{i}" for i in range(8)]


def _cluster(rng: random.Random) -> list[HostView]:
    sizes = {m: float(rng.choice((4, 8, 12, 16))) for m in MODELS}
    hosts = []
    for i in range(rng.randint(1, 3)):
        loaded = rng.sample(MODELS, 1)
        hosts.append(HostView(
            name=f"h{i}", slots=rng.randint(1, 4), memory_gb=rng.choice((20.0, 32.0, 48.0)),
            loaded=dict.fromkeys(loaded, 4096), sizes_gb=dict(sizes),
            parallel={m: rng.randint(1, 4) for m in MODELS}, load_lane=rng.random() < 0.5,
            pinned=frozenset(loaded if rng.random() < 0.3 else [])))
    return hosts


def _check_grant(d: Dispatcher, c: Claim) -> None:
    h = d.hosts[c.lease.host]
    assert not set(c.lease.evict) & set(h.pinned), "a pinned model was evicted"
    assert all(h.running.get(m, 0) == 0 for m in c.lease.evict), "a running model was evicted"
    if not c.lease.load:
        assert h.inflight <= h.slots, "over the host's cap"
        assert h.running[c.job.model] <= h.model_slots(c.job.model), "over the instance's slots"
    assert h.memory_gb is not None and h.memory_used() <= h.memory_gb, "over the budget"


@pytest.mark.parametrize("seed", range(12))
def test_random_clusters_keep_every_rule_and_answer_every_job(seed: int) -> None:
    rng = random.Random(seed)
    clock = Clock()
    d = dispatcher(_cluster(rng), entities=[entity(f"e{m}", m) for m in MODELS], clock=clock)
    total = 60
    for i in range(total):
        m = rng.choice(MODELS[:5] if rng.random() < 0.8 else MODELS)
        d.offer([job(f"j{i}", m, f"e{m}", priority=rng.choice((0, 50, 50, 80, 100)),
                     at=clock.now + i)])
    running: list[tuple[float, Claim]] = []  # (time it ends, claim)
    done = 0
    for _ in range(5000):
        while (c := d.claim("w")) is not None:
            _check_grant(d, c)
            if c.lease.load:
                d.load_finished(c.lease.lease_id, True, 4096)
            running.append((clock.now + rng.uniform(1, 10), c))
        if not running:
            clock.advance(1.0)
            continue
        running.sort(key=lambda r: r[0])
        ends, c = running.pop(0)
        clock.now = max(clock.now, ends)
        d.generation_done(c.lease.lease_id)
        d.ack(c.lease.lease_id, "replied")
        done += 1
        if done == total:
            break
    assert done == total, f"{total - done} jobs never ran"
    assert d.idle()
