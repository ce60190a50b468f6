"""The peer strategies: small async drivers that call the simulated hosts' OpenAI API directly.

- `serial`: what the site's old bot did. One worker takes the best pending message (priority,
  then age), sends it to the first host that has its model loaded, else to the one with the most
  free memory, and lets the host load it just in time.
- `round-robin`: every message, in arrival order, to the next host that has its model, with at
  most `concurrency` requests in flight.
- `litellm`: the real LiteLLM Router, `least-busy` routing, one deployment per host and model,
  at the same concurrency (see litellm_driver.py).

The policy peers (llama-swap, site-router, warm-first) are in peers.py.

A driver returns, per request, its completion time in simulated seconds from the start (None
when it was given up on), and how many attempts it took.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from botcluster.bench.workload import Request, prompt_text
from botcluster.sim.spec import ClusterSpec

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
Send = Callable[[Request], Awaitable[None]]


@dataclass
class Run:
    """What a driver needs, and what it fills in."""

    requests: Sequence[Request]
    cluster: ClusterSpec
    urls: dict[str, str]
    time_scale: float
    concurrency: int
    deadline_s: float  # simulated; requests not done by then count as lost
    clock: Callable[[], float] = time.monotonic
    on_done: Callable[[], None] = lambda: None
    done_s: dict[int, float] = field(default_factory=dict)  # request index -> finished at
    attempts: dict[int, int] = field(default_factory=dict)
    started: float = 0.0

    def now_s(self) -> float:
        """Simulated seconds since the start of the workload."""
        return (self.clock() - self.started) / self.time_scale

    async def until(self, t_s: float) -> None:
        await asyncio.sleep(max(0.0, t_s - self.now_s()) * self.time_scale)

    def hosts_for(self, model: str) -> list[str]:
        return [h.name for h in self.cluster.hosts if h.model(model) is not None]


def chat_body(r: Request) -> dict[str, Any]:
    return {"model": r.model, "max_tokens": r.max_tokens,
            "messages": [{"role": "system", "content": f"You are {r.entity}."},
                         {"role": "user", "content": prompt_text(r)}]}


async def chat(http: httpx.AsyncClient, url: str, r: Request) -> None:
    """One completion; raises httpx.HTTPError on any failure."""
    resp = await http.post(url + "/v1/chat/completions", json=chat_body(r))
    resp.raise_for_status()


async def attempt(run: Run, r: Request, send: Send) -> None:
    """Up to MAX_ATTEMPTS tries of `send(r)`; records the finish time on success."""
    for n in range(1, MAX_ATTEMPTS + 1):
        run.attempts[r.index] = n
        try:
            await send(r)
        except Exception as exc:  # a peer's failure is a result to count, not a crash
            log.debug("request %d failed (attempt %d): %r", r.index, n, exc)
            continue
        run.done_s[r.index] = run.now_s()
        run.on_done()
        return


def http_client(concurrency: int, time_scale: float) -> httpx.AsyncClient:
    limit = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency)
    # A generous timeout in real seconds: an hour of simulated time.
    return httpx.AsyncClient(limits=limit, timeout=max(30.0, 3600.0 * time_scale))


async def run_serial(run: Run) -> None:
    """One worker; best pending first; loaded host first, else the most free memory."""
    pending: list[tuple[int, float, int]] = []
    arrivals = iter(sorted(run.requests, key=lambda r: r.t))
    by_index = {r.index: r for r in run.requests}
    nxt: Request | None = next(arrivals, None)
    async with http_client(1, run.time_scale) as http:
        while (nxt is not None or pending) and run.now_s() < run.deadline_s:
            while nxt is not None and nxt.t <= run.now_s():
                heapq.heappush(pending, (-(nxt.priority or 50), nxt.t, nxt.index))
                nxt = next(arrivals, None)
            if not pending:
                assert nxt is not None
                await run.until(nxt.t)
                continue
            r = by_index[heapq.heappop(pending)[2]]

            async def send(req: Request) -> None:
                url = run.urls[await _serial_host(run, http, req.model)]
                await chat(http, url, req)

            await attempt(run, r, send)


async def _serial_host(run: Run, http: httpx.AsyncClient, model: str) -> str:
    best: tuple[float, str] | None = None
    for name in run.hosts_for(model):
        spec = next(h for h in run.cluster.hosts if h.name == name)
        try:
            resp = await http.get(run.urls[name] + "/api/v0/models")
            data = resp.json()["data"]
        except (httpx.HTTPError, ValueError, KeyError):
            continue
        loaded = [m["id"].split(":")[0] for m in data if m.get("state") == "loaded"]
        if model in loaded:
            return name
        used = sum(m.size_gb for m in spec.models if m.key in loaded)
        free = spec.memory_gb - used
        if best is None or free > best[0]:
            best = (free, name)
    return best[1] if best else run.hosts_for(model)[0]


async def run_concurrent(run: Run, send: Send) -> None:
    """Arrival order, at most `run.concurrency` in flight, each via `send`."""
    gate = asyncio.Semaphore(run.concurrency)

    async def one(r: Request) -> None:
        try:
            await attempt(run, r, send)
        finally:
            gate.release()

    tasks = []
    for r in sorted(run.requests, key=lambda r: r.t):
        await run.until(r.t)
        await gate.acquire()
        tasks.append(asyncio.create_task(one(r)))
    left = max(0.0, run.deadline_s - run.now_s()) * run.time_scale
    _, late = await asyncio.wait(tasks, timeout=left) if tasks else (set(), set())
    for task in late:
        task.cancel()


async def run_round_robin(run: Run) -> None:
    counter = itertools.count()
    async with http_client(run.concurrency, run.time_scale) as http:

        async def send(r: Request) -> None:
            hosts = run.hosts_for(r.model)
            await chat(http, run.urls[hosts[next(counter) % len(hosts)]], r)

        await run_concurrent(run, send)
