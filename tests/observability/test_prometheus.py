"""A real Prometheus in the loop: it scrapes a running `botcluster start` (embedded board, two
simulated LM Studio hosts) every second and evaluates the alert rules every second.

Two rule files are loaded: dashboards/alerts.yml as shipped, and a copy whose `for` durations
are 2 s and whose alerts carry `rules="fast"`. When a host is taken down, the shipped
BotclusterHostDown (`for: 2m`) is checked to reach `pending` (its expression fires) and the
fast copy to reach `firing`; nothing waits out the real two minutes.

The tests share one bot and one Prometheus and run in file order; the last one takes a host
down for good.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.dashboards.queries import (
    Query,
    alert_queries,
    all_dashboard_queries,
    substitute_variables,
)
from tests.observability import promserver
from tests.observability.botrun import post_and_wait, promtool_lint, scrape, started
from tests.observability.promserver import FAST, Prometheus
from tests.support.simbot import SimBot, cluster_toml, sim_cluster, write_bot
from tests.support.site import wait_for

pytestmark = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(120)]


@dataclass(frozen=True)
class Stack:
    bot: SimBot
    prom: Prometheus


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if promserver.binary() is None:
        pytest.skip("the prometheus binary is not installed (Debian package `prometheus`)")
    tmp = tmp_path_factory.mktemp("prom")
    with sim_cluster(tmp, cluster_toml(2)) as hosts:
        bot = write_bot(tmp, hosts)
        target = bot.metrics_url.removeprefix("http://")
        rules = [promserver.ALERTS_FILE, promserver.fast_rules(tmp / "alerts-fast.yml", 2)]
        cfg = promserver.config(tmp / "prometheus.yml", target, rules)
        with started(bot, tmp / "bot.log"), promserver.running_prometheus(tmp, cfg) as prom:
            yield Stack(bot, prom)


def panel(title: str, ref: str = "A") -> str:
    """A dashboard panel's query as Grafana would send it with every variable on "All"."""
    matches = [q for q in all_dashboard_queries() if f"{title!r} {ref}" in q.source]
    assert matches, f"no panel {title!r} {ref}"
    return substitute_variables(matches[0].expr)


def test_the_bot_is_an_up_target_and_every_rule_evaluates(stack: Stack) -> None:
    prom = stack.prom

    def target_up() -> bool:
        active = prom.api("targets")["activeTargets"]
        return [(t["labels"]["job"], t["health"]) for t in active] == [("botcluster", "up")]

    wait_for(target_up, timeout=20, interval=0.5)
    assert prom.values(panel("Bot up"), by="") == {"": 1.0}

    def rules_evaluated() -> list[dict[str, object]]:
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        return rules if all(r["health"] != "unknown" for r in rules) else []

    rules = wait_for(rules_evaluated, timeout=20, interval=0.5)
    assert len(rules) == 2 * len(alert_queries())
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    time.sleep(3)  # a few evaluations with data: a healthy, idle bot fires nothing
    firing = [a["labels"]["alertname"] for a in prom.api("alerts")["alerts"]
              if a["state"] == "firing"]
    assert firing == []


def test_key_dashboard_panels_show_the_bot(stack: Stack) -> None:
    prom = stack.prom
    stamp = int(time.time() * 1000)
    post_and_wait(stack.bot, [f"{stamp}-p{i}" for i in range(6)])

    wait_for(lambda: prom.values(panel("Replies / min"), by="").get("", 0) > 0, timeout=20)
    assert set(prom.values(panel("Queue depth by state"), by="state")) == {
        "ready", "deferred", "claimed"}
    assert prom.values(panel("Slots used / total", "B"), by="host") == {
        "sim-0": 2.0, "sim-1": 2.0}
    assert prom.values(panel("Hosts up"), by="") == {"": 2.0}
    assert prom.values(panel("Workers alive"), by="") == {"": 2.0}
    assert prom.values(panel("Loaded models"), by="host") == {"sim-0": 1.0, "sim-1": 1.0}
    assert 0 <= prom.values(panel("Time since last successful poll"), by="")[""] < 10
    by_outcome = wait_for(lambda: prom.values(panel("LLM requests per minute by outcome"),
                                              by="outcome"), timeout=10)
    assert by_outcome.get("ok", 0) > 0
    # With observations in the histograms too, the scrape still passes promtool's lint.
    assert promtool_lint(scrape(stack.bot)) == ""


def test_every_dashboard_and_alert_query_runs_on_prometheus(stack: Stack) -> None:
    """Runtime errors (many-to-many matching, bad ranges) only show with real series."""
    queries: list[Query] = all_dashboard_queries() + alert_queries()
    for q in queries:
        stack.prom.query(substitute_variables(q.expr))  # asserts status "success"


def test_a_host_taken_down_raises_BotclusterHostDown(stack: Stack) -> None:
    prom = stack.prom
    httpx.post(stack.bot.hosts["sim-1"] + "/sim/faults",
               json={"down_for_s": 300, "down_after_s": 0}, timeout=5).raise_for_status()

    wait_for(lambda: any(a["state"] == "firing"
                         for a in prom.alerts("BotclusterHostDown", host="sim-1", **FAST)),
             timeout=45, interval=0.5)
    shipped = [a for a in prom.alerts("BotclusterHostDown", host="sim-1")
               if a["labels"].get("rules") != "fast"]
    assert [a["state"] for a in shipped] == ["pending"], "for: 2m has not passed yet"
    assert prom.alerts("BotclusterHostDown", host="sim-0") == []
    assert prom.alerts("BotclusterAllHostsDown") == []
    assert prom.values(panel("Hosts up"), by="") == {"": 1.0}
    assert prom.values(panel("Host up"), by="host") == {"sim-0": 1.0, "sim-1": 0.0}
