"""LM Studio's REST surface as the router sees it."""

from __future__ import annotations

import httpx
import openai
import pytest

from botcluster.sim import SimCluster
from tests.sim.conftest import chat, client, get, host, model, post, run


def test_v1_models_lists_downloaded_when_jit_on_and_loaded_when_off() -> None:
    models = [model("alpha", loaded=True), model("beta")]

    async def scenario(cluster: SimCluster) -> None:
        on = (await get(cluster, "/v1/models", "on")).json()
        off = (await get(cluster, "/v1/models", "off")).json()
        assert [m["id"] for m in on["data"]] == ["alpha", "beta"]
        assert [m["id"] for m in off["data"]] == ["alpha"]

    run([host("on", jit=True, models=models), host("off", jit=False, models=models)], scenario)


def test_v0_state_and_v1_loaded_instances() -> None:
    models = [model("alpha", loaded=True, context_length=8192), model("beta")]

    async def scenario(cluster: SimCluster) -> None:
        v0 = {m["id"]: m for m in (await get(cluster, "/api/v0/models")).json()["data"]}
        assert v0["alpha"]["state"] == "loaded"
        assert v0["alpha"]["loaded_context_length"] == 8192
        assert v0["beta"]["state"] == "not-loaded"
        one = (await get(cluster, "/api/v0/models/beta")).json()
        assert one["state"] == "not-loaded"
        v1 = {m["key"]: m for m in (await get(cluster, "/api/v1/models")).json()["models"]}
        inst = v1["alpha"]["loaded_instances"]
        assert inst[0]["config"] == {"context_length": 8192, "parallel": 4, "ttl": None}
        assert v1["beta"]["loaded_instances"] == []
        assert v1["beta"]["size_bytes"] == 4 * 1024**3

    run([host(models=models, slots_per_model=4, slots_per_host=4)], scenario)


def test_load_and_unload_endpoints() -> None:
    async def scenario(cluster: SimCluster) -> None:
        r = await post(cluster, "/api/v1/models/load", {"model": "beta", "context_length": 2048})
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "loaded" and body["instance_id"] == "beta"
        # 4 GB at 1 GB/s; measured on the host's clock, so a stall can only lengthen it
        assert 4.0 <= body["load_time_seconds"] < 10.0
        v1 = {m["key"]: m for m in (await get(cluster, "/api/v1/models")).json()["models"]}
        assert v1["beta"]["loaded_instances"][0]["config"]["context_length"] == 2048
        r = await post(cluster, "/api/v1/models/unload", {"instance_id": "beta"})
        assert r.json() == {"instance_id": "beta"}
        r = await post(cluster, "/api/v1/models/unload", {"instance_id": "beta"})
        assert r.status_code == 404

    run([host()], scenario)


def test_chat_with_openai_client_non_streaming_and_streaming() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        reply = await chat(c, "alpha", "x" * 40, max_tokens=30)
        text = reply.choices[0].message.content
        assert "simulated" in text
        assert reply.usage.prompt_tokens == 10  # 40 characters at ~4 per token
        assert 15 <= reply.usage.completion_tokens <= 30
        assert len(text.split(" ")) >= reply.usage.completion_tokens
        stream = await c.chat.completions.create(
            model="alpha", messages=[{"role": "user", "content": "hi"}], max_tokens=30,
            stream=True)
        parts, usage = [], None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            usage = chunk.usage or usage
        assert "simulated" in "".join(parts)
        assert usage is not None and 15 <= usage.completion_tokens <= 30
        await c.close()

    run([host()], scenario)


def test_v0_chat_adds_lm_studio_stats_and_model_info() -> None:
    async def scenario(cluster: SimCluster) -> None:
        body = {"model": "beta", "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 40}
        r = await post(cluster, "/api/v0/chat/completions", body)
        assert r.status_code == 200
        reply = r.json()
        stats, info = reply["stats"], reply["model_info"]
        assert info["context_length"] == 2048 and info["quant"] is None
        n = reply["usage"]["completion_tokens"]
        # a JIT load of 4 s and a 0.5 s ttft come first (host clock: a stall only adds)
        assert stats["time_to_first_token"] >= 4.5
        assert stats["tokens_per_second"] == 100.0  # the host's rate
        assert stats["generation_time"] == pytest.approx(n / 100.0, abs=0.001)
        assert stats["stop_reason"] == ("maxPredictedTokensReached" if n == 40 else "eosFound")
        v1 = await post(cluster, "/v1/chat/completions", body)
        assert "stats" not in v1.json(), "the OpenAI-compatible endpoint stays plain"

    run([host(models=[model("alpha"), model("beta", context_length=2048)])], scenario)


def test_unknown_model_is_an_lm_studio_error() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        with pytest.raises(openai.NotFoundError, match="not found"):
            await chat(c, "nope")
        await c.close()
        assert (await get(cluster, "/sim/stats")).json()["requests"] == {"unknown_model": 1}

    run([host()], scenario)


def test_bearer_token_is_required_when_set() -> None:
    async def scenario(cluster: SimCluster) -> None:
        bad = client(cluster, api_key="wrong")
        with pytest.raises(openai.AuthenticationError):
            await chat(bad, "alpha")
        good = client(cluster, api_key="s3cret")
        assert (await chat(good, "alpha")).choices[0].message.content
        async with httpx.AsyncClient() as h:  # admin routes stay open
            assert (await h.get(cluster.urls["h1"] + "/sim/stats")).status_code == 200
        await bad.close()
        await good.close()

    run([host(api_token="s3cret")], scenario)


def test_ttl_unloads_an_idle_jit_model() -> None:
    async def scenario(cluster: SimCluster) -> None:
        c = client(cluster)
        # 60 simulated seconds (0.6 s real) between the reply and the check that the model is
        # still loaded: a shorter TTL expired first on a busy machine
        await chat(c, "beta", extra_body={"ttl": 60})
        await c.close()
        v1 = {m["key"]: m for m in (await get(cluster, "/api/v1/models")).json()["models"]}
        assert v1["beta"]["loaded_instances"][0]["config"]["ttl"] == 60
        await cluster.clock.sleep(120)
        stats = (await get(cluster, "/sim/stats")).json()
        assert stats["ttl_unloads"] == 1
        assert stats["instances"] == []

    run([host()], scenario)
