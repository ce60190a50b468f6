"""The alert rules: promtool accepts them, their unit tests pass and cover every alert, and
every alert carries the annotations an operator needs."""

from __future__ import annotations

import functools
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.dashboards.queries import (
    ALERTS_FILE,
    DASHBOARDS_DIR,
    ROOT,
    alert_queries,
    check_metric_names,
    load_alert_rules,
)

pytestmark = pytest.mark.prometheus

OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
UNIT_TESTS = sorted((DASHBOARDS_DIR / "tests").glob("*.yml"))
ALERTS = [r for r in load_alert_rules() if "alert" in r]
SELECTOR = re.compile(r"\b(up|botcluster_\w+)\s*(\{[^}]*\})?")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a markdown document."""
    anchors = set()
    for line in markdown.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


@functools.cache
def unit_test_evals() -> list[dict[str, Any]]:
    evals = []
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            evals.extend(case.get("alert_rule_test", []))
    return evals


def test_promtool_check_rules(promtool: str) -> None:
    done = run(promtool, "check", "rules", str(ALERTS_FILE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(load_alert_rules())} rules found" in done.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    assert UNIT_TESTS, "no promtool unit tests in dashboards/tests"
    done = run(promtool, "test", "rules", *map(str, UNIT_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("alert", [r["alert"] for r in ALERTS])
def test_unit_tests_show_alert_firing_and_quiet(alert: str) -> None:
    evals = [e for e in unit_test_evals() if e["alertname"] == alert]
    assert any(e.get("exp_alerts") for e in evals), f"{alert}: no unit test where it fires"
    assert any(not e.get("exp_alerts") for e in evals), f"{alert}: no unit test where it is quiet"


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_alert_annotations(rule: dict[str, Any]) -> None:
    annotations = rule.get("annotations", {})
    assert annotations.get("summary"), "summary missing"
    assert re.search(r"\{\{ *\$(value|labels\.\w+)", annotations.get("description", "")), (
        "the description should show the values ({{ $value }} or {{ $labels.x }})"
    )
    assert rule.get("labels", {}).get("severity") in ("critical", "warning")
    runbook = annotations.get("runbook", "")
    path, _, anchor = runbook.partition("#")
    assert path == "docs/OPERATIONS.md" and anchor, f"runbook {runbook!r}"
    assert anchor in heading_anchors(OPERATIONS.read_text(encoding="utf-8")), (
        f"docs/OPERATIONS.md has no section with the anchor #{anchor}"
    )


def test_alert_names_are_unique() -> None:
    names = [r["alert"] for r in ALERTS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_alert_selectors_use_the_job_label(rule: dict[str, Any]) -> None:
    for m in SELECTOR.finditer(rule["expr"]):
        assert m.group(2) and 'job="botcluster"' in m.group(2), (
            f"{m.group(0)!r} should select job=\"botcluster\""
        )


def test_alert_queries_name_existing_metrics(known_metric_names: set[str]) -> None:
    assert check_metric_names(alert_queries(), known_metric_names) == []


def test_example_prometheus_config(promtool: str) -> None:
    config_file = DASHBOARDS_DIR / "prometheus.yml"
    done = run(promtool, "check", "config", str(config_file))
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    rule_files = [(config_file.parent / f).resolve() for f in config["rule_files"]]
    assert ALERTS_FILE.resolve() in rule_files
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [t for sc in jobs["botcluster"]["static_configs"] for t in sc["targets"]]
    assert targets == ["127.0.0.1:9464"]


def test_runbook_has_a_section_per_alert_and_nothing_stale() -> None:
    anchors = heading_anchors(OPERATIONS.read_text(encoding="utf-8"))
    alert_anchors = {r["alert"].lower() for r in ALERTS}
    documented = {a for a in anchors if a.startswith("botcluster") and a.isalnum()}
    assert documented == alert_anchors, "docs/OPERATIONS.md and alerts.yml disagree"


def test_unit_test_files_load_the_rules() -> None:
    for path in UNIT_TESTS:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        loaded = {(path.parent / f).resolve() for f in data["rule_files"]}
        assert loaded == {ALERTS_FILE.resolve()}, path.name
