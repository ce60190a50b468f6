"""The policy peers' drivers against an in-process simulated cluster, on a tiny workload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from botcluster.bench.drivers import Run
from botcluster.bench.peers import run_llama_swap, run_site_router, run_warm_first
from botcluster.bench.workload import Request
from botcluster.sim import SimCluster, cluster_from_dict

SCALE = 0.02


def cluster_dict(memory_gb: float = 8.0) -> dict[str, Any]:
    models = [{"key": k, "size_gb": 4.0} for k in ("m-a", "m-b", "m-c")]
    host = {"memory_gb": memory_gb, "slots_per_model": 1, "slots_per_host": 2, "load_gb_per_s": 4.0,
            "ttft_s": 0.1, "tokens_per_s": 100.0}
    return {"time_scale": SCALE, "hosts": [
        {**host, "name": "h1", "models": [dict(models[0], loaded=True), *models[1:]]},
        {**host, "name": "h2", "models": [models[0], dict(models[1], loaded=True), models[2]]}]}


def workload() -> list[Request]:
    keys = ["m-a", "m-b", "m-c", "m-a", "m-c", "m-b", "m-a", "m-c", "m-a", "m-b"]
    return [Request(t=i * 0.2, entity=f"e-{k}", model=k, prompt_tokens=10, max_tokens=20,
                    priority=80 if i == 4 else 50, index=i) for i, k in enumerate(keys)]


Driver = Callable[[Run], Coroutine[Any, Any, None]]


@pytest.mark.parametrize("driver", [run_site_router, run_warm_first, run_llama_swap],
                         ids=["site-router", "warm-first", "llama-swap"])
def test_peer_replies_to_everything_within_the_hosts_limits(driver: Driver) -> None:
    spec = cluster_from_dict(cluster_dict())
    requests = workload()
    with SimCluster(spec).running() as cluster:
        run = Run(requests=requests, cluster=spec, urls=cluster.urls, time_scale=SCALE,
                  concurrency=6, deadline_s=300.0)
        run.started = time.monotonic()
        asyncio.run(driver(run))
        stats = {name: httpx.get(url + "/sim/stats").json() for name, url in cluster.urls.items()}
    assert sorted(run.done_s) == [r.index for r in requests]
    assert all(run.done_s[r.index] > r.t for r in requests)
    for s in stats.values():
        assert s["peak_active"] <= 2
        assert s["evicted_running"] == 0
    assert sum(s["predictions"] for s in stats.values()) == len(requests)


def test_llama_swap_unloads_through_the_api_and_never_lets_the_host_evict() -> None:
    spec = cluster_from_dict(cluster_dict(memory_gb=4.0))  # one model at a time
    requests = workload()
    with SimCluster(spec).running() as cluster:
        run = Run(requests=requests, cluster=spec, urls=cluster.urls, time_scale=SCALE,
                  concurrency=6, deadline_s=300.0)
        run.started = time.monotonic()
        asyncio.run(run_llama_swap(run))
        stats = {name: httpx.get(url + "/sim/stats").json() for name, url in cluster.urls.items()}
    assert sorted(run.done_s) == [r.index for r in requests]
    # m-a and m-c share their home host h1: llama-swap stops one to start the other itself
    assert stats["h1"]["unloads"] >= 1 and stats["h1"]["model_loads"].get("m-c", 0) >= 1
    assert stats["h2"]["model_loads"] == {}  # m-b, h2's only model, was loaded at the start
    assert sum(s["evictions"] for s in stats.values()) == 0
