"""The capacity model on the simulator (ARCHITECTURE.md "Scheduling"): slots per loaded instance
under the host's cap, a load beside generation, pinned models. Each test runs simulated LM
Studio hosts and `botcluster start` as real processes, and checks the hosts' own counters."""

from __future__ import annotations

import time
from pathlib import Path

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
from tests.support.simbot import sim_cluster, write_bot
from tests.support.site import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

A, B, C = "m-a@f16", "m-b@f16", "m-c@f16"


def _burst(bot: object, n: int, entities: tuple[str, ...]) -> list[str]:
    return [post(bot, f"b{i}", entities[i % len(entities)]) for i in range(n)]  # type: ignore[arg-type]


def test_two_instances_of_parallel_2_under_a_cap_of_4_run_4_at_once(tmp_path: Path) -> None:
    """LM Studio 0.4 reports `parallel` = 2 for each loaded instance; the host's cap is 4.
    Eight messages for the two models: four predictions at once, none waiting at the host."""
    host = Host("sim-0", (Model(A, loaded=True), Model(B, loaded=True)), slots=2, host_slots=4,
                tokens_per_s=10.0)  # 20 tokens: 2 s a reply, so the jobs overlap
    with sim_cluster(tmp_path, cluster_text(host)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=2, jobs=4, entities={"ea": A, "eb": B},
                        slots=4)
        with bot_running(bot, tmp_path / "bot.log"):
            exactly_one_reply_each(bot, _burst(bot, 8, ("ea", "eb")))
        stats = sim_stats(hosts["sim-0"])
    assert stats["peak_active"] == 4, stats
    # Every request passes through the host's queue; none had to wait in it for a slot.
    assert stats["wait_seconds"] < 0.2, "the bot sent more than an instance's slots"


def test_a_host_capped_at_1_runs_1(tmp_path: Path) -> None:
    """The same host serialized (cap 1 in the bot's config): its instances still say
    `parallel` = 2, and the bot never sends a second request while one runs (each of the six
    would have waited half a second in the host's queue)."""
    host = Host("sim-0", (Model(A, loaded=True), Model(B, loaded=True)), slots=2, host_slots=1,
                tokens_per_s=40.0)
    with sim_cluster(tmp_path, cluster_text(host)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=2, jobs=4, entities={"ea": A, "eb": B},
                        slots=1)
        with bot_running(bot, tmp_path / "bot.log"):
            exactly_one_reply_each(bot, _burst(bot, 6, ("ea", "eb")))
        stats = sim_stats(hosts["sim-0"])
    assert stats["peak_active"] == 1 and stats["wait_seconds"] < 0.2, stats


def test_a_load_beside_generation_does_not_stop_the_other_slots(tmp_path: Path) -> None:
    """A host that loads while it generates: B's 16 GB load takes 8 s, and meanwhile both of
    the host's slots answer A's six messages (2 s each: 6 s). Had the load held a slot, A's
    messages would have run one at a time (12 s), after B's reply (10 s)."""
    host = Host("sim-0", (Model(A, loaded=True), Model(B, size_gb=16.0)), slots=2,
                load_gb_per_s=2.0, tokens_per_s=10.0)
    with sim_cluster(tmp_path, cluster_text(host)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=2, jobs=4, entities={"ea": A, "eb": B},
                        host_extra={"sim-0": "load_while_generating = true"})
        with bot_running(bot, tmp_path / "bot.log"):
            slow = post(bot, "load-b", "eb")
            time.sleep(0.3)  # B's job is first in line
            fast = _burst(bot, 6, ("ea",))
            wait_for(lambda: has_reply(bot, slow), timeout=40, interval=0.1)
            assert all(has_reply(bot, m) for m in fast), "A's slots waited for B's load"
            exactly_one_reply_each(bot, [slow, *fast])
            assert metric(bot, "botcluster_model_loads_total", outcome="ok") == 1
        stats = sim_stats(hosts["sim-0"])
    assert stats["loads"] == 1 and stats["peak_active"] == 2


def test_a_pinned_model_is_never_evicted(tmp_path: Path) -> None:
    """Two hosts with room for one model each; B must evict something. Unpinned, the first
    host's idle A would go (the hosts tie and are ordered by name); pinned, B's load evicts the
    second host's idle C instead."""
    specs = [Host("sim-0", (Model(A, loaded=True, size_gb=8.0), Model(B, size_gb=8.0)),
                  memory_gb=10.0),
             Host("sim-1", (Model(C, loaded=True, size_gb=8.0), Model(B, size_gb=8.0)),
                  memory_gb=10.0)]
    with sim_cluster(tmp_path, cluster_text(*specs)) as hosts:
        bot = write_bot(tmp_path, hosts, workers=1, jobs=4, entities={"eb": B},
                        host_extra={"sim-0": f'memory_gb = 10.0\npinned = ["{A}"]',
                                    "sim-1": "memory_gb = 10.0"})
        with bot_running(bot, tmp_path / "bot.log"):
            exactly_one_reply_each(bot, [post(bot, "needs-b", "eb")])
            assert metric(bot, "botcluster_model_evictions_total", host="sim-0") == 0
        pinned_host, other = sim_stats(hosts["sim-0"]), sim_stats(hosts["sim-1"])
        assert sim_loaded(hosts["sim-0"]) == {A} and sim_loaded(hosts["sim-1"]) == {B}
    assert pinned_host["unloads"] == 0 and pinned_host["loads"] == 0
    assert other["unloads"] == 1 and other["loads"] == 1
