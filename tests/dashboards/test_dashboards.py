"""The Grafana dashboards: well-formed for file provisioning, in sync with their generator,
and every query parses (promtool) and names metrics that botcluster.metrics defines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.dashboards.queries import (
    DASHBOARDS_DIR,
    ROOT,
    Query,
    all_dashboard_queries,
    check_metric_names,
    dashboard_queries,
    data_panels,
    load_dashboards,
    metric_names,
    recording_rules_file,
    variables_outside_regex,
)

pytestmark = pytest.mark.prometheus

DASHBOARDS = load_dashboards()
DATASOURCE_UID = "${datasource}"


def test_the_two_dashboards_exist() -> None:
    titles = {d["title"] for d in DASHBOARDS.values()}
    assert {"botcluster overview", "botcluster hosts"} <= titles
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids))


def test_json_is_what_the_generator_writes() -> None:
    done = subprocess.run([sys.executable, str(DASHBOARDS_DIR / "generate.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_is_provisionable(name: str) -> None:
    board = DASHBOARDS[name]
    assert "__inputs" not in board, "file provisioning cannot fill __inputs"
    assert board["schemaVersion"] >= 39
    assert board.get("id") is None, "a fixed id collides between Grafana instances"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    ds = variables["datasource"]
    assert (ds["type"], ds["query"]) == ("datasource", "prometheus")
    for var_name in ("instance", "host", "entity"):
        var = variables[var_name]
        assert var["type"] == "query"
        assert var["datasource"]["uid"] == DATASOURCE_UID
        assert var["query"]["query"].startswith("label_values(")
        assert var["includeAll"] and var["allValue"] == ".*"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels(name: str) -> None:
    board = DASHBOARDS[name]
    every = board["panels"] + [p for row in board["panels"] for p in row.get("panels", [])]
    ids = [p["id"] for p in every]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for panel in every:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
    for panel in data_panels(board):
        where = f"{name}: {panel['title']!r}"
        assert panel["title"] and panel.get("description"), where
        assert panel["datasource"]["uid"] == DATASOURCE_UID, where
        targets = panel.get("targets", [])
        assert targets, f"{where} has no targets"
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), where
        for target in targets:
            assert target.get("expr", "").strip(), f"{where} {target['refId']} has no expr"
            assert target["datasource"]["uid"] == DATASOURCE_UID, where


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_template_variables_only_in_regex_matchers(name: str) -> None:
    for q in dashboard_queries(name, DASHBOARDS[name]):
        assert variables_outside_regex(q.expr) == [], q.source


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_selector_filters_by_the_instance_variable(name: str) -> None:
    """Two bots scraped by one Prometheus are two instances: no panel may merge them unasked."""
    variables = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}
    instance = variables["instance"]
    assert instance["query"]["query"] == 'label_values(up{job="botcluster"}, instance)'
    assert instance["includeAll"] and instance["allValue"] == ".*"
    for q in dashboard_queries(name, DASHBOARDS[name]):
        if q.source.endswith("variable instance"):
            continue
        selectors = re.findall(r"\{[^{}]*\}", q.expr)
        assert selectors, q.source
        for selector in selectors:
            assert 'instance=~"$instance"' in selector, f"{q.source}: {selector}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_queries_select_the_job(name: str) -> None:
    for q in dashboard_queries(name, DASHBOARDS[name]):
        assert 'job="botcluster"' in q.expr, q.source


def test_every_query_parses(promtool: str, tmp_path: Path) -> None:
    queries = all_dashboard_queries()
    assert len(queries) > 40
    rules = tmp_path / "dashboard_queries.yml"
    by_record = recording_rules_file(queries, rules)
    done = subprocess.run([promtool, "check", "rules", str(rules)],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        named = [f"{record}: {q.source}" for record, q in by_record.items()
                 if f'"{record}"' in done.stdout + done.stderr]
        pytest.fail("promtool rejected dashboard queries:\n" + "\n".join(named)
                    + "\n" + done.stdout + done.stderr)
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout


def test_every_query_names_existing_metrics(known_metric_names: set[str]) -> None:
    assert check_metric_names(all_dashboard_queries(), known_metric_names) == []


def test_dashboards_use_the_main_metrics() -> None:
    used = set().union(*(metric_names(q.expr) for q in all_dashboard_queries()))
    for name in ("botcluster_heal_seconds_bucket", "botcluster_reply_seconds_bucket",
                 "botcluster_queue_depth", "botcluster_queue_oldest_job_timestamp_seconds",
                 "botcluster_heal_pending", "botcluster_cache_misses_total",
                 "botcluster_workers_alive", "botcluster_worker_restarts_total",
                 "botcluster_host_up", "botcluster_host_slots", "botcluster_host_inflight",
                 "botcluster_host_wait_seconds_bucket", "botcluster_host_busy_seconds_total",
                 "botcluster_model_loaded", "botcluster_model_loads_total",
                 "botcluster_model_evictions_total", "botcluster_generation_seconds_bucket",
                 "botcluster_llm_requests_total"):
        assert name in used, name


@pytest.mark.parametrize(("expr", "unknown"), [
    ('rate(botcluster_jobs{job="botcluster"}[5m])', "botcluster_jobs"),
    ("histogram_quantile(0.9, sum by (le) (rate(botcluster_reply_seconds[5m])))",
     "botcluster_reply_seconds"),
    ('sum by (host) (botcluster_host_busy_seconds{host=~"$host"})', "botcluster_host_busy_seconds"),
])
def test_name_check_catches_missing_suffixes(
    expr: str, unknown: str, known_metric_names: set[str]
) -> None:
    problems = check_metric_names([Query("example", expr)], known_metric_names)
    assert len(problems) == 1 and unknown in problems[0]


def test_name_check_ignores_functions_labels_and_keywords() -> None:
    expr = ('max by (job, instance) (time() - up{job="botcluster", le=~"$host"} offset 5m) '
            'or on (job) vector(0) and bool 1')
    assert metric_names(expr) == {"up"}


def test_provisioning_examples() -> None:
    base = DASHBOARDS_DIR / "provisioning"
    sources = yaml.safe_load((base / "datasources" / "botcluster.yml").read_text())
    assert [s["type"] for s in sources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((base / "dashboards" / "botcluster.yml").read_text())
    assert [(p["type"], bool(p["options"]["path"])) for p in providers["providers"]] == [
        ("file", True)
    ]
