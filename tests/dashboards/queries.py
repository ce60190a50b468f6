"""The PromQL queries of the dashboards and alert rules, and checks on them.

`check_metric_names(queries, known)` is the reusable part: give it the names a scrape exposes
(`names_from_exposition(text)` turns an exposition into that set), and it lists every query
that selects a metric the scrape does not have. The tests here feed it the exposition of
botcluster.metrics; a test against a running bot can feed it a real /metrics scrape.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = ROOT / "dashboards"
ALERTS_FILE = DASHBOARDS_DIR / "alerts.yml"

# Series Prometheus makes itself for every target; dashboards and alerts may use them.
SYNTHETIC_SERIES = frozenset({
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added",
})

# What Grafana's built-in variables become for a parse check.
BUILTIN_VARIABLES = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h",
    "__interval_ms": "60000", "__range_s": "3600", "__range_ms": "3600000",
}

PROMQL_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
    "and", "or", "unless", "atan2", "inf", "nan",
})

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_TOKEN = re.compile(r"\d[\w.]*|[A-Za-z_:][\w:]*")
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from (for messages)."""

    source: str
    expr: str


def substitute_variables(expr: str) -> str:
    """The expression with Grafana variables replaced: intervals by durations, others by .*"""

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return BUILTIN_VARIABLES.get(name, ".*")

    return _VARIABLE.sub(value, expr)


def variables_outside_regex(expr: str) -> list[str]:
    """Template variables used anywhere but in a =~ or !~ matcher's value.

    A multi-value variable with "All" expands to a regex (a|b or .*), which an = matcher
    would take literally, so variables belong in regex matchers only.
    """
    masked = _MATCHER.sub(lambda m: "" if m.group(2) in ("=~", "!~") else m.group(0), expr)
    found = [name for m in _VARIABLE.finditer(masked) for name in m.groups() if name]
    return [v for v in found if v not in BUILTIN_VARIABLES]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = _STRING.sub('""', substitute_variables(expr))
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    names = set()
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if token[0].isdigit() or token in PROMQL_KEYWORDS:
            continue
        if text[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(token)
    return names


def check_metric_names(queries: Iterable[Query], known: Set[str]) -> list[str]:
    """One message per query that names a metric outside `known` (plus Prometheus' own)."""
    problems = []
    for q in queries:
        unknown = metric_names(q.expr) - set(known) - SYNTHETIC_SERIES
        if unknown:
            problems.append(f"{q.source}: unknown {sorted(unknown)} in {q.expr!r}")
    return problems


def names_from_exposition(text: str) -> set[str]:
    """Every series name an exposition (text format or OpenMetrics) has or can have.

    Labelled metrics without children have a TYPE line but no samples, so names are also
    derived from the type: counters as *_total, histograms as *_bucket, *_sum and *_count.
    """
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            names |= _names_of_type(name, kind.strip())
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def _names_of_type(name: str, kind: str) -> set[str]:
    if kind == "counter":
        base = name.removesuffix("_total")
        return {base + "_total", base + "_created"}
    if kind in ("histogram", "gaugehistogram"):
        return {name + "_bucket", name + "_sum", name + "_count", name + "_created"}
    if kind == "summary":
        return {name, name + "_sum", name + "_count", name + "_created"}
    return {name}


def metrics_module_exposition() -> str:
    """The exposition of botcluster.metrics, generated in a fresh single-process interpreter.

    PROMETHEUS_MULTIPROC_DIR is removed from the child's environment: with it, the module's
    metrics would go to mmap files and the default registry would not show them.
    """
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    code = (
        "import sys, botcluster.metrics, prometheus_client\n"
        "sys.stdout.write(prometheus_client.generate_latest().decode())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON in dashboards/, by file name."""
    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def data_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that query data: not rows, including panels nested in collapsed rows."""
    out = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def dashboard_queries(name: str, dashboard: dict[str, Any]) -> list[Query]:
    """Panel target expressions and the series selectors of label_values variables."""
    queries = []
    for panel in data_panels(dashboard):
        for target in panel.get("targets", []):
            source = f"{name}: panel {panel.get('id')} {panel.get('title')!r} {target.get('refId')}"
            queries.append(Query(source, target.get("expr", "")))
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query)
        m = _LABEL_VALUES.match(text)
        queries.append(Query(f"{name}: variable {var.get('name')}", m.group(1) if m else text))
    return queries


def all_dashboard_queries() -> list[Query]:
    return [q for name, board in load_dashboards().items() for q in dashboard_queries(name, board)]


def load_alert_rules(path: Path = ALERTS_FILE) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def alert_queries(path: Path = ALERTS_FILE) -> list[Query]:
    return [Query(f"{path.name}: {r.get('alert') or r.get('record')}", r["expr"])
            for r in load_alert_rules(path)]


def recording_rules_file(queries: list[Query], path: Path) -> dict[str, Query]:
    """Write each query, variables substituted, as a recording rule, so that
    `promtool check rules` parses it. Returns the record names with their query."""
    by_record = {f"dashboard_query_{i}": q for i, q in enumerate(queries)}
    rules = [{"record": record, "expr": substitute_variables(q.expr)}
             for record, q in by_record.items()]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]},
                                   sort_keys=False, width=1000), encoding="utf-8")
    return by_record
