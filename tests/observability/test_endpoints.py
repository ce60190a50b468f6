"""What Prometheus and a load balancer see of a freshly started bot: every series the dashboards
and alerts use is in the first scrape, the scrape passes promtool's lint, and /healthz and
/readyz say whether the bot can do its work."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from botcluster import metrics
from botcluster.comments import validate
from tests.dashboards.queries import alert_queries, all_dashboard_queries, check_metric_names
from tests.observability.botrun import (
    promtool_lint,
    sample_names,
    samples,
    scrape,
    started,
    value,
    with_metrics_keys,
)
from tests.support.simbot import SimBot, cluster_toml, sim_cluster, write_bot
from tests.support.site import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@dataclass(frozen=True)
class FreshBot:
    bot: SimBot
    first_scrape: str  # taken as soon as /readyz answered, before any message


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreshBot]:
    tmp = tmp_path_factory.mktemp("fresh")
    with sim_cluster(tmp, cluster_toml(2)) as hosts:
        bot = write_bot(tmp, hosts, entities={"e1": "m-a@f16", "e2": "m-a@f16"})
        with started(bot, tmp / "bot.log"):
            yield FreshBot(bot, scrape(bot))


def test_first_scrape_has_every_series_the_dashboards_and_alerts_use(fresh: FreshBot) -> None:
    queries = all_dashboard_queries() + alert_queries()
    assert len(queries) > 40
    assert check_metric_names(queries, sample_names(fresh.first_scrape)) == []


def test_first_scrape_has_every_label_set_of_the_configured_hosts_and_entities(
        fresh: FreshBot) -> None:
    got = samples(fresh.first_scrape)

    def has(name: str, **labels: str) -> bool:
        return (name, frozenset(labels.items())) in got

    for host in ("sim-0", "sim-1"):
        assert got[("botcluster_host_slots", frozenset({("host", host)}))] == 2
        assert got[("botcluster_host_up", frozenset({("host", host)}))] == 1
        assert got[("botcluster_host_inflight", frozenset({("host", host)}))] == 0
        assert has("botcluster_model_loaded", host=host, model="m-a@f16")
        assert has("botcluster_host_busy_seconds_total", host=host)
        assert has("botcluster_host_wait_seconds_count", host=host)
        assert has("botcluster_generation_seconds_count", host=host)
        assert has("botcluster_model_evictions_total", host=host)
        for outcome in metrics.LLM_OUTCOMES:
            assert has("botcluster_llm_requests_total", host=host, outcome=outcome)
        for outcome in metrics.LOAD_OUTCOMES:
            assert has("botcluster_model_loads_total", host=host, outcome=outcome)
    for entity in ("e1", "e2"):
        for outcome in metrics.JOB_OUTCOMES:
            assert got[("botcluster_jobs_total",
                        frozenset({("entity", entity), ("outcome", outcome)}))] == 0
    for state in metrics.QUEUE_STATES:
        assert got[("botcluster_queue_depth", frozenset({("state", state)}))] == 0
    for reason in metrics.POLL_ERROR_REASONS:  # an alert takes increase() of each
        assert has("botcluster_poll_errors_total", reason=reason)
    assert value(fresh.first_scrape, "botcluster_workers_alive") == 2
    assert value(fresh.first_scrape, "botcluster_poll_last_success_timestamp_seconds") > 0


def test_skip_reasons_are_the_validators_own() -> None:
    """skipped_messages is initialised from metrics.SKIP_REASONS: it must not drift."""
    reasons = {v for k, v in vars(validate).items() if k.isupper() and isinstance(v, str)}
    assert set(metrics.SKIP_REASONS) == reasons


@pytest.mark.prometheus
def test_promtool_check_metrics_accepts_a_real_scrape(fresh: FreshBot) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    assert promtool_lint(fresh.first_scrape) == ""


def test_healthz_and_readyz_answer_200_on_a_healthy_bot(fresh: FreshBot) -> None:
    for path in ("/healthz", "/readyz"):
        r = httpx.get(fresh.bot.metrics_url + path, timeout=5)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is True
        assert body["manager_alive"] is True and body["workers_alive"] == 2
        assert body["seconds_since_poll"] < 5


def test_metrics_listens_on_loopback_only(fresh: FreshBot) -> None:
    assert fresh.bot.metrics_url.startswith("http://127.0.0.1:")
    port = fresh.bot.metrics_url.rsplit(":", 1)[1]
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    ours = [line.split()[1] for line in listening
            if line.split()[3] == "0A" and line.split()[1].endswith(f":{int(port):04X}")]
    assert ours == [f"0100007F:{int(port):04X}"]


def test_healthz_turns_503_while_the_comments_api_fails_and_recovers(tmp_path: Path,
                                                                      sim2: dict[str, str]) -> None:
    """The board answers every comments call with HTTP 500 (its error_rate fault), so every poll
    fails. With [metrics] poll_stale_s = 2 /healthz must say 503 within a few seconds, and 200
    again once the board answers. The default threshold is max(30 s, 10 x poll_interval_s)."""
    bot = with_metrics_keys(write_bot(tmp_path, sim2), poll_stale_s=2.0)
    faults = bot.board_url + "/api/admin/faults"
    with started(bot, tmp_path / "bot.log"):
        assert httpx.get(bot.metrics_url + "/healthz", timeout=5).status_code == 200
        httpx.post(faults, json={"error_rate": 1.0}, timeout=5).raise_for_status()
        wait_for(lambda: httpx.get(bot.metrics_url + "/healthz", timeout=5).status_code == 503,
                 timeout=20, interval=0.2)
        r = httpx.get(bot.metrics_url + "/healthz", timeout=5)
        assert r.json()["seconds_since_poll"] >= 2.0
        assert r.json()["workers_alive"] == 2, "the workers are fine; the polls are not"
        assert httpx.get(bot.metrics_url + "/readyz", timeout=5).status_code == 503
        # A poll retries for several seconds before it counts as failed.
        wait_for(lambda: value(scrape(bot), "botcluster_polls_total", outcome="error") > 0,
                 timeout=20, interval=0.5)

        httpx.post(faults, json={"error_rate": 0.0}, timeout=5).raise_for_status()
        wait_for(lambda: httpx.get(bot.metrics_url + "/healthz", timeout=5).status_code == 200,
                 timeout=20, interval=0.2)
        assert httpx.get(bot.metrics_url + "/readyz", timeout=5).status_code == 200
