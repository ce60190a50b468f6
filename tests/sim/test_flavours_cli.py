"""The Ollama and llama-server dialects, the CLI, and the example cluster file."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import httpx

from botcluster.sim import SimCluster, load_cluster
from tests.sim.conftest import chat, client, get, host, model, post, run, stats
from tests.support.procs import botcluster_cmd

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "benchmarks" / "clusters" / "example.toml"


def test_ollama_tags_ps_preload_unload_and_chat() -> None:
    models = [model("the-eternal-f16", 8.0), model("jester", 4.0)]

    async def scenario(cluster: SimCluster) -> None:
        tags = (await get(cluster, "/api/tags")).json()["models"]
        assert [t["name"] for t in tags] == ["the-eternal-f16", "jester"]
        assert (await get(cluster, "/api/ps")).json() == {"models": []}
        r = await post(cluster, "/api/generate", {"model": "jester", "keep_alive": "10m"})
        assert r.json()["done"] is True
        ps = (await get(cluster, "/api/ps")).json()["models"]
        assert [p["name"] for p in ps] == ["jester"] and ps[0]["expires_at"]
        c = client(cluster)
        assert "simulated" in (await chat(c, "jester")).choices[0].message.content
        await c.close()
        await post(cluster, "/api/generate", {"model": "jester", "keep_alive": 0})
        assert (await get(cluster, "/api/ps")).json() == {"models": []}
        assert (await post(cluster, "/api/generate", {"model": "nope"})).status_code == 404

    run([host(flavour="ollama", models=models)], scenario)


def test_llamacpp_health_props_slots_and_chat() -> None:
    async def scenario(cluster: SimCluster) -> None:
        assert (await get(cluster, "/health")).status_code == 200
        assert (await get(cluster, "/props")).json()["total_slots"] == 1
        models = (await get(cluster, "/v1/models")).json()["data"]
        assert [m["id"] for m in models] == ["served"]
        c = client(cluster)
        task = asyncio.create_task(chat(c, "whatever", max_tokens=200))  # model is ignored
        slots = cluster.urls["h1"] + "/slots"
        async with httpx.AsyncClient(timeout=5) as h:  # one client: creating one is slow
            for _ in range(200):  # until the request reaches the host
                if (await h.get(slots)).json()[0]["is_processing"]:
                    break
                await asyncio.sleep(0.005)
            else:
                raise AssertionError("the slot never became busy")
            assert (await h.get(slots + "?fail_on_no_slot=1")).status_code == 503
        reply = await task
        assert reply.model == "served"
        await c.close()
        assert (await get(cluster, "/slots?fail_on_no_slot=1")).status_code == 200
        assert (await stats(cluster))["requests"] == {"ok": 1}

    run([host(flavour="llamacpp", models=[model("served")], tokens_per_s=5.0)], scenario)


def test_example_cluster_file_loads() -> None:
    spec = load_cluster(EXAMPLE)
    assert {h.flavour for h in spec.hosts} == {"lmstudio", "ollama", "llamacpp"}


def test_cli_prints_hosts_writes_ports_file_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    ports = tmp_path / "ports.json"
    proc = subprocess.Popen(
        botcluster_cmd("sim", str(EXAMPLE), "--time-scale", "0.01", "--seed", "3",
                       "--ports-file", str(ports)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().decode().split() for _ in range(4)]
        urls = json.loads(ports.read_text())
        assert {name: url for name, url in lines} == urls
        assert all(u.startswith("http://127.0.0.1:") for u in urls.values())
        r = httpx.get(urls["studio-1"] + "/api/v0/models", timeout=5)
        assert r.json()["data"][0]["state"] == "loaded"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_a_bad_cluster_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[hosts]]\nname = "x"\nbogus = 1\nmodels = [{key = "a"}]\n')
    done = subprocess.run(botcluster_cmd("sim", str(bad)), capture_output=True, text=True,
                          timeout=30)
    assert done.returncode != 0
    assert "hosts[0].bogus: unknown key" in done.stderr
