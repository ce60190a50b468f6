"""LM Studio's hazards and the injected faults, each switched on and observed over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from botcluster.sim import SimCluster
from tests.sim.conftest import OVERLAP_SCALE, chat, client, get, host, model, post, run, stats


@pytest.mark.parametrize("hazard", [False, True])
def test_concurrent_jit_loads_create_a_second_instance_only_with_the_hazard(hazard: bool) -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        await c.models.list()  # warm the client up: its first call is slow
        await asyncio.gather(chat(c, "beta"), chat(c, "beta"))
        await c.close()
        v1 = {m["key"]: m for m in (await get(cluster, "/api/v1/models")).json()["models"]}
        ids = [i["id"] for i in v1["beta"]["loaded_instances"]]
        assert ids == (["beta", "beta:2"] if hazard else ["beta"])
        assert (await stats(cluster))["duplicate_instances"] == (1 if hazard else 0)

    run([host(slots_per_host=2, hazards={"jit_duplicate_instance": hazard})], scenario,
        time_scale=OVERLAP_SCALE)


def test_auto_evict_kills_a_running_request_with_the_hazard() -> None:
    models = [model("alpha", 10.0, loaded=True), model("beta", 10.0)]

    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        await c.models.list()  # warm the client up: its first call is slow
        running = asyncio.create_task(chat(c, "alpha", max_tokens=400))
        await cluster.clock.sleep(1.0)
        assert (await chat(c, "beta")).choices[0].message.content
        with pytest.raises(openai.APIStatusError, match="unloaded"):
            await running
        await c.close()
        s = await stats(cluster)
        assert s["evicted_running"] == 1
        assert s["requests"] == {"ok": 1, "evicted": 1}

    run([host(memory_gb=16.0, slots_per_host=2, hazards={"evict_running": True},
              models=models)], scenario, time_scale=OVERLAP_SCALE)


def test_first_request_after_a_load_is_lost_with_the_hazard() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        with pytest.raises(openai.APIConnectionError):
            await chat(c, "beta")
        assert (await chat(c, "beta")).choices[0].message.content
        await c.close()
        assert (await stats(cluster))["requests"] == {"lost": 1, "ok": 1}

    run([host(hazards={"lose_first_request": True})], scenario)


def test_error_rate_answers_500_and_can_be_switched_at_run_time() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        with pytest.raises(openai.InternalServerError):
            await chat(c, "alpha")
        r = await post(cluster, "/sim/faults", {"error_rate": 0.0})
        assert r.json()["error_rate"] == 0.0
        assert (await chat(c, "alpha")).choices[0].message.content
        assert (await post(cluster, "/sim/faults", {"nonsense": 1})).status_code == 400
        await c.close()

    run([host(faults={"error_rate": 1.0})], scenario)


def test_hanging_request_never_answers() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster, timeout=0.3)
        with pytest.raises(openai.APITimeoutError):
            await chat(c, "alpha")
        await c.close()
        assert (await stats(cluster))["requests"] == {"fault_hang": 1}

    run([host(faults={"hang_rate": 1.0})], scenario)


@pytest.mark.parametrize("stream", [False, True])
def test_dropped_connection_mid_reply(stream: bool) -> None:
    async def scenario(cluster: SimCluster) -> None:
        async with httpx.AsyncClient(timeout=5) as h:
            body = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}],
                    "stream": stream, "max_tokens": 40}
            with pytest.raises(httpx.RemoteProtocolError):
                async with h.stream("POST", cluster.urls["h1"] + "/v1/chat/completions",
                                    json=body) as r:
                    assert r.status_code == 200
                    async for _ in r.aiter_bytes():
                        pass
        assert (await stats(cluster))["requests"] == {"fault_drop": 1}

    run([host(faults={"drop_rate": 1.0})], scenario)


def test_host_down_refuses_connections_and_comes_back() -> None:
    async def scenario(cluster: SimCluster) -> None:
        url = cluster.urls["h1"]
        r = await post(cluster, "/sim/faults", {"down_for_s": 30})
        assert r.status_code == 200
        await cluster.clock.sleep(10)
        async with httpx.AsyncClient(timeout=2) as h:
            with pytest.raises(httpx.ConnectError):
                await h.get(url + "/v1/models")
            await cluster.clock.sleep(40)
            assert (await h.get(url + "/v1/models")).status_code == 200
        assert cluster.urls["h1"] == url  # same port
        assert (await stats(cluster))["downs"] == 1

    run([host()], scenario)


def test_down_schedule_from_the_cluster_file() -> None:
    async def scenario(cluster: SimCluster) -> None:
        url = cluster.urls["h1"] + "/v1/models"
        seen = []
        async with httpx.AsyncClient(timeout=1) as h:
            for _ in range(30):
                try:
                    seen.append((await h.get(url)).status_code == 200)
                except httpx.TransportError:  # refused, or a pooled connection was cut
                    seen.append(False)
                await cluster.clock.sleep(5)
        # up, then down from 20 s for 20 s, every 60 s
        assert seen[0] and not all(seen)
        assert True in seen[seen.index(False):]
        assert cluster.stats()["h1"]["downs"] >= 2  # the host may be down now: ask in-process

    run([host(faults={"down_after_s": 20, "down_for_s": 20, "down_every_s": 60})], scenario)


def test_python_api_set_down_runs_from_another_thread() -> None:
    from botcluster.sim import cluster_from_dict

    spec = cluster_from_dict({"hosts": [host()], "time_scale": 0.01})
    with SimCluster(spec).running() as cluster:
        url = cluster.urls["h1"] + "/v1/models"
        assert httpx.get(url).status_code == 200
        cluster.set_down("h1", True)
        with pytest.raises(httpx.ConnectError):
            httpx.get(url)
        cluster.set_down("h1", False)
        assert httpx.get(url).status_code == 200


def test_replies_and_faults_are_deterministic_under_a_seed() -> None:
    def replies(seed: int) -> list[object]:
        async def scenario(cluster: SimCluster) -> list[object]:
            c = client(cluster)
            out: list[object] = []
            for n in range(12):
                try:
                    r = await chat(c, "alpha", f"q{n % 3}", max_tokens=30)
                    out.append(r.choices[0].message.content)
                except openai.InternalServerError:
                    out.append(500)
            await c.close()
            return out

        return run([host(faults={"error_rate": 0.3}, ttft_s=0.0, tokens_per_s=10000.0)],
                   scenario, seed=seed)

    first = replies(7)
    assert first == replies(7)
    assert first != replies(8)
    assert 500 in first and any(isinstance(r, str) for r in first)


@pytest.mark.parametrize("hazard", [False, True])
def test_two_models_loading_at_once_both_fail_only_with_the_hazard(hazard: bool) -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        await c.models.list()  # warm the client up: its first call is slow
        results = await asyncio.gather(chat(c, "alpha"), chat(c, "beta"),
                                       return_exceptions=True)
        s = await stats(cluster)
        if not hazard:
            assert all(r.choices[0].message.content for r in results)  # type: ignore[union-attr]
            assert s["loads"] == 2 and s["aborted_loads"] == 0
            return
        assert all(isinstance(r, openai.APIStatusError) and "aborted" in str(r)
                   for r in results), results
        assert s["aborted_loads"] == 2 and s["loads"] == 0 and s["instances"] == []
        # one load at a time, as the router sequences them, works
        assert (await chat(c, "alpha")).choices[0].message.content
        assert (await chat(c, "beta")).choices[0].message.content
        await c.close()
        assert (await stats(cluster))["loads"] == 2

    # the hazard's window is one simulated second: 200 ms here, beyond any client stall
    run([host(slots_per_host=2, hazards={"concurrent_loads_abort": hazard})], scenario,
        time_scale=0.2)
