"""Drivers of the policy peers: site-router, warm-first and llama-swap (policies in policies.py
and llamaswap.py). Each calls the simulated hosts' API directly, as the real router would.

- `site-router`: arrival order at the bench's concurrency, each message to `site_pick`.
- `warm-first`: a central queue; whenever a host has a free prediction slot (as the router
  counts its own requests in flight) it takes `warm_first_pick`'s message.
- `llama-swap`: one llama-swap per host; each model is forwarded to its home host. Swaps unload
  the evicted models and load the target through LM Studio's REST API; requests go in as
  llama-swap grants them. A refused request (concurrency limit) is sent again when a request
  for its model ends, as a client retrying a 429 would.

The site-router and warm-first learn what is loaded from each host's `/api/v0/models` after
every reply from it; a model they sent a request for counts as resident at once (it loads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

import httpx

from botcluster.bench.drivers import Run, attempt, chat, http_client, run_concurrent
from botcluster.bench.llamaswap import Action, Refuse, Serve, Swap, home_hosts, swap_host
from botcluster.bench.policies import Pending, site_pick, warm_first_pick
from botcluster.bench.view import HostView, views
from botcluster.bench.workload import Request

log = logging.getLogger(__name__)


async def refresh(http: httpx.AsyncClient, url: str, host: HostView) -> None:
    """Update `host` from its `/api/v0/models` (loaded instances; `key:2` counts as `key`)."""
    try:
        resp = await http.get(url + "/api/v0/models")
        data = resp.json()["data"]
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        log.debug("%s: no model list (%r); keeping the last view", host.name, exc)
        return
    host.observed({m["id"].split(":")[0] for m in data if m.get("state") == "loaded"})


async def run_site_router(run: Run) -> None:
    hosts = views(run.cluster)
    order = list(hosts.values())
    async with http_client(run.concurrency, run.time_scale) as http:

        async def send(r: Request) -> None:
            host = site_pick(order, r.model)
            host.sent(r.model)
            try:
                await chat(http, run.urls[host.name], r)
            finally:
                host.finished(r.model)
                await refresh(http, run.urls[host.name], host)

        await run_concurrent(run, send)


async def run_warm_first(run: Run) -> None:
    hosts = views(run.cluster)
    arrivals = sorted(run.requests, key=lambda r: r.t)
    by_index = {r.index: r for r in run.requests}
    pending: list[Pending] = []
    wake = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()
    async with http_client(run.concurrency, run.time_scale) as http:

        async def one(r: Request, host: HostView) -> None:
            url = run.urls[host.name]
            try:
                await attempt(run, r, lambda req: chat(http, url, req))
            finally:
                host.finished(r.model)
                await refresh(http, url, host)
                wake.set()

        i = 0
        while (i < len(arrivals) or pending or tasks) and run.now_s() < run.deadline_s:
            now = run.now_s()
            while i < len(arrivals) and arrivals[i].t <= now:
                r = arrivals[i]
                pending.append(Pending(r.index, r.model, r.priority, r.t))
                i += 1
            while (pick := warm_first_pick(hosts, pending, now)) is not None:
                job, host = pick
                pending.remove(job)
                host.sent(job.model)
                task = asyncio.create_task(one(by_index[job.index], host))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            until = arrivals[i].t if i < len(arrivals) else run.deadline_s
            wake.clear()
            await _wait(wake, (min(until, run.deadline_s) - now) * run.time_scale)
        for task in list(tasks):
            task.cancel()


async def _wait(event: asyncio.Event, real_s: float) -> None:
    """Until `event` is set or `real_s` real seconds have passed."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), max(0.0, real_s))


async def run_llama_swap(run: Run) -> None:
    homes = home_hosts(run.cluster)
    scheds = {h.name: swap_host(run.cluster, h.name) for h in run.cluster.hosts}
    by_index = {r.index: r for r in run.requests}
    refused: dict[tuple[str, str], list[int]] = {}
    tasks: set[asyncio.Task[None]] = set()
    async with http_client(len(run.requests), run.time_scale) as http:

        def spawn(coro: Coroutine[Any, Any, None]) -> None:
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def execute(host: str, actions: Sequence[Action]) -> None:
            for a in actions:
                if isinstance(a, Serve):
                    spawn(serve(host, a))
                elif isinstance(a, Swap):
                    spawn(swap(host, a))
                elif isinstance(a, Refuse):
                    refused.setdefault((host, a.model), []).append(a.request)

        async def serve(host: str, a: Serve) -> None:
            url = run.urls[host]
            try:
                await attempt(run, by_index[a.request], lambda req: chat(http, url, req))
            finally:
                execute(host, scheds[host].on_serve_done(a.model))
                waiting = refused.get((host, a.model))
                if waiting:
                    execute(host, scheds[host].on_request(waiting.pop(0), a.model))

        async def swap(host: str, a: Swap) -> None:
            ok = await _swap(http, run.urls[host], a)
            execute(host, scheds[host].on_swap_done(a.model, ok))

        for r in sorted(run.requests, key=lambda r: r.t):
            await run.until(r.t)
            home = homes[r.model]
            execute(home, scheds[home].on_request(r.index, r.model))
        while tasks and run.now_s() < run.deadline_s:
            left = (run.deadline_s - run.now_s()) * run.time_scale
            await asyncio.wait(set(tasks), timeout=left, return_when=asyncio.FIRST_COMPLETED)
        for task in list(tasks):
            task.cancel()


async def _swap(http: httpx.AsyncClient, url: str, a: Swap) -> bool:
    """Stop the evicted models, then start the target; False when the load failed."""
    for model in a.evict:
        resp = await http.post(url + "/api/v1/models/unload", json={"instance_id": model})
        if resp.status_code != 200:
            log.debug("unload of %s: HTTP %d", model, resp.status_code)
    try:
        resp = await http.post(url + "/api/v1/models/load", json={"model": a.model})
    except httpx.HTTPError as exc:
        log.debug("load of %s failed: %r", a.model, exc)
        return False
    return resp.status_code == 200
