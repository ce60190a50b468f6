"""The router's rules (ARCHITECTURE.md "Scheduling"), each checked end to end on the simulator.

Every test runs the simulated LM Studio hosts, `botcluster start` (with its embedded board) as
real processes, posts human messages to the board, waits for exactly one visible reply each,
and then checks what really happened on the hosts: the simulator's own counters (loads,
unloads, requests by outcome) and the bot's /metrics. The simulated hosts have JIT loading and
auto-evict off, so every load and eviction they count is one the bot asked for.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.routing.harness import (
    Host,
    Model,
    bot_running,
    cluster_text,
    exactly_one_reply_each,
    has_reply,
    metric,
    post,
    sim_loaded,
    sim_stats,
)
from tests.support.procs import botcluster_cmd
from tests.support.simbot import sim_cluster, write_bot
from tests.support.site import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

A, B, C = "m-a@f16", "m-b@f16", "m-c@f16"


def test_a_loaded_model_is_preferred(tmp_path: Path) -> None:
    """Jobs for a model go to the host that has it loaded, even when another host has more
    free slots and the memory to load it: no load anywhere, no request to the other host."""
    cold = Host("sim-0", (Model(A), Model(B, loaded=True)), slots=4)
    warm = Host("sim-1", (Model(A, loaded=True),), slots=2)
    with sim_cluster(tmp_path, cluster_text(cold, warm)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"e1": A})
        with bot_running(bot, tmp_path / "bot.log"):
            # Four at once: two run on the warm host's two slots, two wait for them (a queue
            # no longer than the warm slots does not justify a second copy of the model).
            ids = [post(bot, f"pref{i}", "e1") for i in range(4)]
            exactly_one_reply_each(bot, ids)
            assert metric(bot, "botcluster_model_loads_total") == 0
            assert metric(bot, "botcluster_llm_requests_total", host="sim-1", outcome="ok") == 4
            assert metric(bot, "botcluster_llm_requests_total", host="sim-0") == 0
        cold_stats, warm_stats = sim_stats(hosts["sim-0"]), sim_stats(hosts["sim-1"])
    assert cold_stats["loads"] == 0 and cold_stats["requests"] == {}
    assert warm_stats["loads"] == 0 and warm_stats["requests"] == {"ok": 4}


def test_two_requests_for_an_unloaded_model_cause_one_load(tmp_path: Path) -> None:
    """Two messages for a model loaded nowhere, on two hosts that could each load it: exactly
    one load in the whole cluster; the second job waits for it instead of loading again."""
    hosts_spec = [Host(f"sim-{i}", (Model(A), Model(B, loaded=True)), load_gb_per_s=2.0)
                  for i in range(2)]  # a 2 s load: both jobs are queued while it runs
    with sim_cluster(tmp_path, cluster_text(*hosts_spec)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"e1": A})
        with bot_running(bot, tmp_path / "bot.log"):
            ids = [post(bot, f"one{i}", "e1") for i in range(2)]
            exactly_one_reply_each(bot, ids)
            assert metric(bot, "botcluster_model_loads_total", outcome="ok") == 1
            assert metric(bot, "botcluster_model_loads_total") == 1
            assert metric(bot, "botcluster_model_evictions_total") == 0
        stats = [sim_stats(url) for url in hosts.values()]
    assert sum(s["loads"] for s in stats) == 1
    assert sum(s["model_loads"].get(A, 0) for s in stats) == 1
    assert sum(s["duplicate_instances"] for s in stats) == 0
    assert sum(s["requests"].get("ok", 0) for s in stats) == 2
    assert all(set(s["requests"]) <= {"ok"} for s in stats), stats


def test_loads_of_two_models_on_one_host_are_sequenced(tmp_path: Path) -> None:
    """HOSTS.md: two different models requested in the same second can abort both loads, so
    the router sequences loads on a host. The simulated host has that hazard switched on; two
    messages for two unloaded models at once cause two loads, one after the other."""
    host = Host("sim-0", (Model(A, loaded=True), Model(B), Model(C)), load_gb_per_s=4.0,
                options={"hazards": "{ concurrent_loads_abort = true }"})
    with sim_cluster(tmp_path, cluster_text(host)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"eb": B, "ec": C})
        with bot_running(bot, tmp_path / "bot.log"):
            ids = [post(bot, "for-b", "eb"), post(bot, "for-c", "ec")]
            exactly_one_reply_each(bot, ids)
            assert metric(bot, "botcluster_model_loads_total", outcome="ok") == 2
        stats = sim_stats(hosts["sim-0"])
    assert stats["aborted_loads"] == 0 and stats["load_failures"] == 0
    assert stats["model_loads"] == {B: 1, C: 1}
    assert stats["requests"] == {"ok": 2}


def test_eviction_never_hits_a_busy_model(tmp_path: Path) -> None:
    """A load that needs room evicts an idle model, never the one that is generating, even
    when the busy one is the least recently used. The long generation is not cut."""
    host = Host("sim-0", (Model(A, loaded=True), Model(B, loaded=True), Model(C)),
                memory_gb=10.0, tokens_per_s=30.0, load_gb_per_s=8.0)  # room for two models
    with sim_cluster(tmp_path, cluster_text(host)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"ea": A, "eb": B, "ec": C},
                        entity_max_tokens={"ea": 400, "eb": 8, "ec": 8},  # ea: 7 to 13 s
                        host_extra={"sim-0": "memory_gb = 10.0"})
        url = hosts["sim-0"]
        with bot_running(bot, tmp_path / "bot.log"):
            long = post(bot, "busy-a", "ea")
            wait_for(lambda: sim_stats(url)["active"] == 1, timeout=20, interval=0.1)
            short = post(bot, "idle-b", "eb")  # B is now used more recently than A
            wait_for(lambda: has_reply(bot, short), timeout=20, interval=0.1)
            swap = post(bot, "load-c", "ec")
            wait_for(lambda: has_reply(bot, swap), timeout=30, interval=0.1)
            # The rule was under test only if A was still generating during C's load.
            assert not has_reply(bot, long), "precondition: A's generation outlasts C's load"
            exactly_one_reply_each(bot, [long, short, swap])
            assert metric(bot, "botcluster_model_evictions_total", host="sim-0") == 1
            assert metric(bot, "botcluster_model_loads_total", outcome="ok") == 1
        stats = sim_stats(url)
        loaded = sim_loaded(url)
    assert loaded == {A, C}, "B, the idle model, made room"
    assert stats["unloads"] == 1 and stats["evicted_running"] == 0 and stats["loads"] == 1
    assert stats["requests"] == {"ok": 3}


def test_an_over_long_context_is_truncated_and_answered(tmp_path: Path) -> None:
    """A message whose context is far longer than the model's loaded context gets a reply:
    the bot cuts the oldest context lines to fit the host's reported context length, so the
    host never answers 400."""
    ctx = 512
    host = Host("sim-0", (Model(A, loaded=True, context_length=ctx),))
    # 100 lines of about 100 characters (the entity keeps the last 100): 2500 tokens.
    lines = [f"Someone{i:03}: " + "words " * 15 for i in range(100)]
    assert sum(len(line) for line in lines) // 4 > 4 * ctx  # far over, not borderline
    with sim_cluster(tmp_path, cluster_text(host)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"e1": A}, max_tokens=50)
        with bot_running(bot, tmp_path / "bot.log"):
            mid = post(bot, "long", "e1", "what do you all think?", context=lines)
            short = post(bot, "short", "e1", "and now briefly?", context=lines[-2:])
            exactly_one_reply_each(bot, [mid, short])
            assert metric(bot, "botcluster_llm_requests_total", outcome="ok") == 2
            assert metric(bot, "botcluster_llm_requests_total", outcome="error") == 0
        stats = sim_stats(hosts["sim-0"])
    assert stats["requests"] == {"ok": 2}, "no context_overflow (HTTP 400) at the host"


def test_out_of_memory_evicts_one_idle_model_and_retries(tmp_path: Path) -> None:
    """The bot does not know the host's memory budget, so its load of a third model fails
    with LM Studio's out-of-memory error; the bot then unloads one idle model (the least
    recently used), loads again successfully, and the message is answered once."""
    host = Host("sim-0", (Model(A, loaded=True), Model(B, loaded=True), Model(C)),
                memory_gb=10.0)
    with sim_cluster(tmp_path, cluster_text(host)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"ea": A, "eb": B, "ec": C})
        url = hosts["sim-0"]
        with bot_running(bot, tmp_path / "bot.log"):
            warm = post(bot, "warm-b", "eb")  # B becomes the most recently used
            exactly_one_reply_each(bot, [warm])
            mid = post(bot, "oom-c", "ec")
            exactly_one_reply_each(bot, [mid])
            assert metric(bot, "botcluster_model_loads_total", outcome="oom") == 1
            assert metric(bot, "botcluster_model_loads_total", outcome="ok") == 1
            assert metric(bot, "botcluster_model_evictions_total", host="sim-0") == 1
            assert metric(bot, "botcluster_jobs_total", outcome="dead_lettered") == 0
        stats = sim_stats(url)
        loaded = sim_loaded(url)
    assert stats["load_failures"] == 1 and stats["loads"] == 1, stats
    assert stats["unloads"] == 1 and stats["model_loads"] == {C: 1}
    assert loaded == {B, C}, "A, the least recently used idle model, made room"
    assert stats["requests"] == {"ok": 2}


def test_a_dead_host_gets_no_traffic_until_it_recovers(tmp_path: Path) -> None:
    """A host that goes down costs at most one failed request (or the state poll finds it
    first); every message meanwhile is answered by the other host, and none reaches the dead
    one while it is down. Once it is back, the state poll marks it up and it serves again."""
    down_s = 8.0
    specs = [Host(f"sim-{i}", (Model(A, loaded=True),)) for i in range(2)]
    with sim_cluster(tmp_path, cluster_text(*specs)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"e1": A})
        dead, alive = hosts["sim-0"], hosts["sim-1"]
        with bot_running(bot, tmp_path / "bot.log"):
            exactly_one_reply_each(bot, [post(bot, "warm", "e1")])  # the worker is up
            httpx.post(dead + "/sim/faults", json={"down_for_s": down_s}, timeout=5)
            wait_for(lambda: _refused(dead), timeout=10, interval=0.05)
            down_at = time.monotonic()
            during: list[str] = []
            while time.monotonic() - down_at < down_s - 2.0:  # traffic all through the outage
                during.append(post(bot, f"down{len(during)}", "e1"))
                time.sleep(0.7)
            exactly_one_reply_each(bot, during)
            # A refused connection counts as "error"; "timeout" would be a hung host.
            failed = sum(metric(bot, "botcluster_llm_requests_total", host="sim-0", outcome=o)
                         for o in ("error", "timeout"))
            assert failed <= 1, f"{failed} requests went to the dead host"
            wait_for(lambda: not _refused(dead), timeout=down_s + 10, interval=0.2)
            served_before = sim_stats(dead)["requests"].get("ok", 0)
            wait_for(lambda: metric(bot, "botcluster_host_up", host="sim-0") == 1, timeout=15,
                     interval=0.2)
            after = [post(bot, f"after{i}", "e1") for i in range(4)]
            exactly_one_reply_each(bot, after)
            assert sum(metric(bot, "botcluster_llm_requests_total", host="sim-0", outcome=o)
                       for o in ("error", "timeout")) == failed, "no failure after the recovery"
        dead_stats, alive_stats = sim_stats(dead), sim_stats(alive)
    assert dead_stats["requests"].get("ok", 0) > served_before, "it serves again"
    assert dead_stats["downs"] == 1
    assert alive_stats["requests"].get("ok", 0) >= len(during)


def _refused(url: str) -> bool:
    try:
        httpx.get(url + "/sim/stats", timeout=2)
    except httpx.ConnectError:
        return True
    return False


def test_status_shows_hosts_slots_models_and_queue(tmp_path: Path) -> None:
    """`botcluster status` reads the running bot: a table with each host, its slots and
    loaded models, and a queue line; `--json` is the same picture as parseable JSON."""
    specs = [Host("sim-0", (Model(A, loaded=True), Model(B, loaded=True), Model(C)), slots=3),
             Host("sim-1", (Model(A, loaded=True), Model(C)))]
    with sim_cluster(tmp_path, cluster_text(*specs)) as hosts:
        # The cap is the operator's (config), never read from an instance's `parallel`.
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"e1": A},
                        host_slots={"sim-0": 3})
        with bot_running(bot, tmp_path / "bot.log"):
            exactly_one_reply_each(bot, [post(bot, "st", "e1")])
            cmd = botcluster_cmd("status", "--config", str(bot.config))
            table = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            raw = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=30)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line for line in table.stdout.splitlines() if line.strip()}
    assert "host" in rows and "queue:" in rows, table.stdout
    # state, slots used/total, memory, then each loaded model with its context length
    assert rows["sim-0"].split()[1:4] == ["up", "0/3", "-"], rows["sim-0"]
    assert re.search(rf"{re.escape(A)} \(\d+\), {re.escape(B)} \(\d+\)$", rows["sim-0"])
    assert re.search(rf" {re.escape(A)} \(\d+\)$", rows["sim-1"]), rows["sim-1"]
    assert rows["sim-1"].split()[1:3] == ["up", "0/2"], rows["sim-1"]
    assert "0 ready, 0 deferred, 0 claimed" in rows["queue:"]
    assert raw.returncode == 0, raw.stderr
    data = json.loads(raw.stdout)
    assert set(data["hosts"]) == {"sim-0", "sim-1"}
    assert set(data["hosts"]["sim-0"]["loaded"]) == {A, B}
    assert data["hosts"]["sim-0"]["slots"] == 3 and data["hosts"]["sim-1"]["up"] is True
    assert data["queue"] == {"ready": 0, "deferred": 0, "claimed": 0}
