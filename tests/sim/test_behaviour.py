"""Loads, memory, slots and the FIFO: the host behaviours the scheduler depends on."""

from __future__ import annotations

import asyncio

import openai
import pytest

from botcluster.sim import SimCluster
from tests.sim.conftest import OVERLAP_SCALE, chat, client, get, host, model, post, run, stats


def test_one_slot_host_serializes_two_models() -> None:
    models = [model("alpha", loaded=True), model("beta", loaded=True)]

    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        await c.models.list()  # warm the client up: its first call is slow
        await asyncio.gather(chat(c, "alpha", max_tokens=100), chat(c, "beta", max_tokens=100))
        await c.close()
        s = await stats(cluster)
        # each holds the only slot for 0.5 s ttft + 2.5..5 s of tokens; the second one waits
        # for the whole of the first (measured on the host, immune to client-side stalls)
        assert s["peak_active"] == 1 and s["peak_queued"] == 1
        assert s["wait_seconds"] >= 2.9
        assert s["busy_slot_seconds"] >= 5.9
        assert s["requests"] == {"ok": 2}

    run([host(models=models, tokens_per_s=20.0)], scenario, time_scale=OVERLAP_SCALE)


def test_two_slot_host_runs_two_predictions_at_once() -> None:
    models = [model("alpha", loaded=True), model("beta", loaded=True)]

    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        await c.models.list()  # warm the client up: its first call is slow
        await asyncio.gather(chat(c, "alpha", max_tokens=100), chat(c, "beta", max_tokens=100))
        await c.close()
        s = await stats(cluster)
        assert s["peak_active"] == 2
        assert s["peak_queued"] == 1 and s["busy_slot_seconds"] >= 2 * 0.6

    run([host(models=models, slots_per_host=2)], scenario, time_scale=OVERLAP_SCALE)


def test_waiting_requests_are_served_fifo() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        await c.models.list()  # warm the client up: its first call is slow
        order: list[int] = []

        async def one(n: int) -> None:
            await asyncio.sleep(0.01 * n)  # arrive in order n, 0.2 simulated seconds apart
            await chat(c, "alpha", f"request {n}")
            order.append(n)

        await asyncio.gather(*(one(n) for n in range(5)))
        await c.close()
        assert order == [0, 1, 2, 3, 4]
        assert (await stats(cluster))["peak_queued"] >= 4

    # a coarser time scale here: client-side overhead must stay small against the replies
    run([host(models=[model("alpha", loaded=True)], tokens_per_s=20.0)], scenario,
        time_scale=0.05)


def test_jit_load_adds_load_time_to_the_request() -> None:
    models = [model("alpha", loaded=True), model("big", size_gb=10.0)]

    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        await c.models.list()  # warm the client up: its first call is slow
        clock = cluster.clock
        t0 = clock.now()
        await chat(c, "alpha", max_tokens=10)
        warm = clock.now() - t0
        t0 = clock.now()
        await chat(c, "big", max_tokens=10)
        cold = clock.now() - t0
        await c.close()
        # Lower bounds only: a stall on a loaded machine can lengthen either request, so the
        # difference has no reliable upper bound; the cold one can never beat the load itself.
        assert warm < 10.0 <= cold  # 10 GB at 1 GB/s
        s = await stats(cluster)
        assert s["loads"] == 1 and s["model_loads"] == {"big": 1}
        assert 10.0 <= s["load_seconds"] < 20.0  # on the host's clock: only a stall adds to it

    run([host(models=models)], scenario, time_scale=0.05)


def test_load_beyond_memory_fails_with_lm_studio_error() -> None:
    models = [model("alpha", 10.0, loaded=True), model("beta", 10.0), model("huge", 30.0)]

    async def scenario(cluster: SimCluster) -> None:
        r = await post(cluster, "/api/v1/models/load", {"model": "beta"})
        assert r.status_code >= 400
        message = r.json()["error"]["message"]
        assert "insufficient system resources" in message
        assert "10.00 GB" in message
        c = client(cluster)
        with pytest.raises(openai.APIStatusError, match="insufficient system resources"):
            await chat(c, "huge")
        await c.close()
        s = await stats(cluster)
        assert s["load_failures"] == 2 and s["requests"] == {"out_of_memory": 1}

    run([host(memory_gb=16.0, auto_evict=False, models=models)], scenario)


def test_auto_evict_frees_room_for_a_load() -> None:
    models = [model("alpha", 10.0, loaded=True), model("beta", 10.0)]

    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        assert (await chat(c, "beta")).choices[0].message.content
        await c.close()
        s = await stats(cluster)
        assert s["evictions"] == 1 and s["evicted_running"] == 0
        assert [i["id"] for i in s["instances"]] == ["beta"]

    run([host(memory_gb=16.0, auto_evict=True, models=models)], scenario)


def test_auto_evict_waits_for_a_running_model_without_the_hazard() -> None:
    models = [model("alpha", 10.0, loaded=True), model("beta", 10.0)]

    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        a = asyncio.create_task(chat(c, "alpha", max_tokens=200))
        await cluster.clock.sleep(0.5)
        b = await chat(c, "beta")
        assert (await a).choices[0].message.content  # not cut
        assert b.choices[0].message.content
        await c.close()
        s = await stats(cluster)
        assert s["evictions"] == 1 and s["evicted_running"] == 0

    run([host(memory_gb=16.0, slots_per_host=2, models=models)], scenario,
        time_scale=OVERLAP_SCALE)


def test_prompt_longer_than_context_is_http_400() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        with pytest.raises(openai.BadRequestError, match="context length of only 100"):
            await chat(c, "alpha", "x" * 404)  # 101 tokens at ~4 characters each
        assert (await chat(c, "alpha", "x" * 400)).choices[0].message.content
        await c.close()

    run([host(models=[model("alpha", context_length=100, loaded=True)])], scenario)


def test_reply_length_is_drawn_from_max_tokens() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        lengths = [(await chat(c, "alpha", f"q{n}", max_tokens=16)).usage.completion_tokens
                   for n in range(8)]
        await c.close()
        assert all(8 <= n <= 16 for n in lengths)
        assert len(set(lengths)) > 1

    run([host(models=[model("alpha", loaded=True)], ttft_s=0.0, tokens_per_s=1000.0)], scenario)


def test_jit_off_refuses_an_unloaded_model() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        with pytest.raises(openai.NotFoundError, match="not loaded"):
            await chat(c, "beta")
        await c.close()
        assert (await get(cluster, "/sim/stats")).json()["loads"] == 0

    run([host(jit=False, models=[model("alpha", loaded=True), model("beta")])], scenario)
