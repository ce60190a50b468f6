"""Helpers for simulator tests: build small clusters and run a scenario against them.

Every cluster runs at time scale 0.01 (one simulated second = 10 ms) unless a test says otherwise.
A test whose assertion needs two requests to overlap on the host runs at OVERLAP_SCALE: at 0.01
the overlap is a few real milliseconds, shorter than the client's stalls on a busy machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from openai import AsyncOpenAI

from botcluster.sim import SimCluster, cluster_from_dict

T = TypeVar("T")
SCALE = 0.01
OVERLAP_SCALE = 0.05


def model(key: str, size_gb: float = 4.0, **kw: Any) -> dict[str, Any]:
    return {"key": key, "size_gb": size_gb, **kw}


def host(name: str = "h1", **kw: Any) -> dict[str, Any]:
    """A host table with fast, round defaults: loads at 1 GB/s, 100 tokens/s, ttft 0.5 s."""
    base: dict[str, Any] = {
        "name": name, "memory_gb": 64.0, "load_gb_per_s": 1.0, "ttft_s": 0.5,
        "tokens_per_s": 100.0, "slots_per_model": 1, "slots_per_host": 1,
        "models": [model("alpha"), model("beta")]}
    base.update(kw)
    return base


def run(hosts: list[dict[str, Any]], scenario: Callable[[SimCluster], Awaitable[T]],
        seed: int = 1, time_scale: float = SCALE) -> T:
    """Start a cluster of `hosts`, run `scenario(cluster)`, stop the cluster."""

    async def main() -> T:
        spec = cluster_from_dict({"hosts": hosts, "seed": seed, "time_scale": time_scale})
        cluster = SimCluster(spec)
        await cluster.start()
        try:
            return await scenario(cluster)
        finally:
            await cluster.stop()

    return asyncio.run(main())


def client(cluster: SimCluster, name: str = "h1", **kw: Any) -> AsyncOpenAI:
    """An openai client for host `name` (no retries: tests count every request)."""
    kw.setdefault("api_key", "x")
    return AsyncOpenAI(base_url=cluster.urls[name] + "/v1", max_retries=0, **kw)


async def chat(c: AsyncOpenAI, model: str, text: str = "hello", max_tokens: int = 20,
               **kw: Any) -> Any:
    return await c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], max_tokens=max_tokens, **kw)


async def stats(cluster: SimCluster, name: str = "h1") -> dict[str, Any]:
    async with httpx.AsyncClient() as h:
        r = await h.get(cluster.urls[name] + "/sim/stats")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


async def post(cluster: SimCluster, path: str, body: dict[str, Any],
               name: str = "h1") -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as h:
        return await h.post(cluster.urls[name] + path, json=body)


async def get(cluster: SimCluster, path: str, name: str = "h1") -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as h:
        return await h.get(cluster.urls[name] + path)
