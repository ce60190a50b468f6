"""Writes the botcluster Grafana dashboards (botcluster-overview.json, botcluster-hosts.json).

The JSON files are the product: Grafana provisions them as they are. This script is how they
are edited: change a panel here, run `python dashboards/generate.py`, commit both. The tests
run `python dashboards/generate.py --check`, which fails when the JSON is out of date.

Every query selects job="botcluster" (the job name of dashboards/prometheus.yml) and the bots
chosen by the $instance variable, and uses the template variables only inside regex matchers
(host=~"$host"), so that "All" (.*) works.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCHEMA_VERSION = 39
DS: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
# Every bot Prometheus scrapes is one `instance` of the job: the $instance variable picks them
# (All: the panels add the bots up), and it filters every selector, so two bots never merge
# unasked. Its own query lists the instances of the job only.
JOB_ONLY = 'job="botcluster"'
JOB = f'{JOB_ONLY}, instance=~"$instance"'
HOST = f'{JOB}, host=~"$host"'
ENTITY = f'{JOB}, entity=~"$entity"'
RATE = "$__rate_interval"

Json = dict[str, Any]


@dataclass
class Target:
    expr: str
    legend: str = "__auto"
    instant: bool = False


@dataclass
class Panel:
    title: str
    kind: str  # timeseries | stat | table | state-timeline
    targets: list[Target]
    description: str
    width: int = 12
    height: int = 8
    unit: str = "short"
    extra: Json = field(default_factory=dict)  # merged into the panel JSON


@dataclass
class Row:
    title: str
    panels: list[Panel]


def hq(q: float, metric: str, selector: str, by: str = "") -> str:
    """histogram_quantile over a *_seconds histogram, grouped by `by` (plus le)."""
    group = f"{by}, le" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({group}) "
        f"(rate({metric}_bucket{{{selector}}}[{RATE}])))"
    )


def up_down_mappings() -> list[Json]:
    return [
        {
            "type": "value",
            "options": {
                "0": {"text": "DOWN", "color": "red", "index": 0},
                "1": {"text": "UP", "color": "green", "index": 1},
            },
        }
    ]


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


def stat(title: str, expr: str, description: str, unit: str = "short", **extra: Any) -> Panel:
    return Panel(title, "stat", [Target(expr, legend=title)], description, 4, 4, unit, extra)


# ---------------------------------------------------------------------------------------------
# botcluster overview

REPLIED = f'botcluster_jobs_total{{{ENTITY}, outcome="replied"}}'
FINISHED = f'botcluster_jobs_total{{{ENTITY}, outcome=~"replied|failed|dead_lettered"}}'
FAILED = f'botcluster_jobs_total{{{ENTITY}, outcome=~"failed|dead_lettered"}}'


def overview_rows() -> list[Row]:
    glance = Row("At a glance", [
        stat("Bot up", f"min(up{{{JOB}}})",
             "Whether Prometheus can scrape the bot's /metrics.",
             extra_mappings=up_down_mappings(),
             extra_thresholds=thresholds((None, "red"), (1, "green"))),
        stat("Replies / min", f"sum(rate({REPLIED}[{RATE}])) * 60",
             "Replies posted per minute (selected entities)."),
        stat("Failure ratio (15m)",
             f"sum(rate({FAILED}[15m])) / sum(rate({FINISHED}[15m]))",
             "Failed and dead-lettered jobs over all finished jobs, last 15 minutes. "
             "Skips are decisions, not failures. Alert: BotclusterReplyFailureRatioHigh (10%).",
             unit="percentunit",
             extra_thresholds=thresholds((None, "green"), (0.05, "orange"), (0.1, "red"))),
        stat("Jobs waiting", f'sum(botcluster_queue_depth{{{JOB}, state=~"ready|deferred"}})',
             "Jobs ready (waiting for a slot) plus deferred (waiting for a rate limit)."),
        stat("Workers alive", f"sum(botcluster_workers_alive{{{JOB}}})",
             "Worker processes alive. Zero with jobs queued: BotclusterNoWorkers.",
             extra_thresholds=thresholds((None, "red"), (1, "green"))),
        stat("Hosts up", f"sum(max by (host) (botcluster_host_up{{{HOST}}}))",
             "LLM hosts the bot sees healthy (selected hosts). Details: botcluster hosts.",
             extra_thresholds=thresholds((None, "red"), (1, "green"))),
    ])
    replies = Row("Replies", [
        Panel("Replies per minute by outcome",
              "timeseries",
              [Target(f"sum by (outcome) (rate(botcluster_jobs_total{{{ENTITY}}}[{RATE}])) * 60",
                      "{{outcome}}")],
              "Finished jobs per minute: replied, skipped (a reason such as [SKIP]), failed "
              "(an attempt failed), dead_lettered (given up), lost_claim (the lease was lost "
              "and another worker owns the job).",
              extra={"stack": True}),
        Panel("Replies per minute by entity", "timeseries",
              [Target(f"sum by (entity) (rate({REPLIED}[{RATE}])) * 60", "{{entity}}")],
              "Replies posted per minute for each selected entity."),
        Panel("Time to visible reply", "timeseries", [
            Target(hq(0.5, "botcluster_reply_seconds", JOB), "message → posted p50"),
            Target(hq(0.95, "botcluster_reply_seconds", JOB), "message → posted p95"),
            Target(hq(0.5, "botcluster_heal_seconds", JOB), "posted → visible p50"),
            Target(hq(0.95, "botcluster_heal_seconds", JOB), "posted → visible p95"),
            Target(f"{hq(0.5, 'botcluster_reply_seconds', JOB)} + "
                   f"{hq(0.5, 'botcluster_heal_seconds', JOB)}", "message → visible ≈ p50"),
            Target(f"{hq(0.95, 'botcluster_reply_seconds', JOB)} + "
                   f"{hq(0.95, 'botcluster_heal_seconds', JOB)}", "message → visible ≈ p95"),
        ], "reply_seconds: from the human message's timestamp to the reply posted. "
           "heal_seconds: from the reply posted to seeing it in the site's recent cache. "
           "The 'message → visible' lines add the two quantiles: an estimate that errs high. "
           "All entities (these histograms have no entity label).",
            width=24, unit="s"),
    ])
    queue = Row("Queue", [
        Panel("Queue depth by state", "timeseries",
              [Target(f"max by (state) (botcluster_queue_depth{{{JOB}}})", "{{state}}")],
              "ready: runnable, waiting for a host slot. deferred: held by an entity's rate "
              "limit. claimed: leased to a worker.", width=8, extra={"stack": True}),
        Panel("Oldest waiting job age", "timeseries",
              [Target(f"max(time() - (botcluster_queue_oldest_job_timestamp_seconds{{{JOB}}} > 0))"
                      " or vector(0)", "oldest job")],
              "Seconds since the oldest waiting job was enqueued; 0 when nothing waits. "
              "Alert: BotclusterOldestJobTooOld (15 min).", width=8, unit="s"),
        Panel("Leases reclaimed and dead letters per hour", "timeseries", [
            Target(f"sum(rate(botcluster_claims_reclaimed_total{{{JOB}}}[{RATE}])) * 3600",
                   "leases reclaimed"),
            Target(f'sum by (entity) (rate(botcluster_jobs_total{{{ENTITY}, '
                   f'outcome="dead_lettered"}}[{RATE}])) * 3600', "dead-lettered {{entity}}"),
            Target(f'sum by (entity) (rate(botcluster_jobs_total{{{ENTITY}, '
                   f'outcome="lost_claim"}}[{RATE}])) * 3600', "lost claim {{entity}}"),
        ], "Leases that expired or died with their worker (the job went back to the queue), "
           "and jobs given up after every attempt.", width=8),
    ])
    heal = Row("Healing and the site's cache", [
        Panel("Heals pending", "timeseries",
              [Target(f"sum(botcluster_heal_pending{{{JOB}}})", "pending")],
              "Posted replies not yet seen in the site's recent cache. A few in flight is "
              "normal; a floor that never returns to 0 is not.", width=6),
        Panel("Oldest unverified reply age", "timeseries",
              [Target("max(time() - (botcluster_heal_oldest_pending_timestamp_seconds"
                      f"{{{JOB}}} > 0)) or vector(0)", "oldest unverified reply")],
              "Seconds since the oldest reply not yet seen in the recent cache was posted; 0 "
              "when every reply is visible. Alert: BotclusterHealsPendingTooLong (20 min).",
              width=6, unit="s"),
        Panel("Cache misses and heals per minute", "timeseries", [
            Target(f"sum by (kind) (rate(botcluster_cache_misses_total{{{JOB}}}[{RATE}])) * 60",
                   "miss {{kind}}"),
            Target(f"sum by (outcome) (rate(botcluster_heals_total{{{JOB}}}[{RATE}])) * 60",
                   "heal {{outcome}}"),
        ], "Verifications that did not find a posted reply, and add-to-cache calls by "
           "outcome.", width=6),
        Panel("Cache misses per reply", "timeseries",
              [Target(f"sum(rate(botcluster_cache_misses_total{{{JOB}}}[{RATE}])) / "
                      f'sum(rate(botcluster_jobs_total{{{JOB}, outcome="replied"}}[{RATE}]))',
                      "misses per reply")],
              "Alert: BotclusterCacheMissRatioHigh (0.5 over 15 min).", width=6),
    ])
    pool = Row("Workers and polling", [
        Panel("Workers alive and restarts", "timeseries", [
            Target(f"sum(botcluster_workers_alive{{{JOB}}})", "alive"),
            Target(f"sum(increase(botcluster_worker_restarts_total{{{JOB}}}[{RATE}]))",
                   "restarts"),
        ], "Worker processes alive, and workers replaced after dying in each interval. "
           "Alert: BotclusterWorkersCrashLooping (more than 3 in 15 min).", width=8),
        Panel("Time since last successful poll", "timeseries",
              [Target(f"time() - max(botcluster_poll_last_success_timestamp_seconds{{{JOB}}})",
                      "since last poll")],
              "Should stay near the poll interval. Alert: BotclusterPollStalled (2 min).",
              width=8, unit="s"),
        Panel("Polls and skipped messages per minute", "timeseries", [
            Target(f"sum by (outcome) (rate(botcluster_polls_total{{{JOB}}}[{RATE}])) * 60",
                   "poll {{outcome}}"),
            Target(f"sum by (reason) (rate(botcluster_skipped_messages_total{{{JOB}}}[{RATE}]))"
                   " * 60", "skipped {{reason}}"),
            Target(f"sum by (reason) (rate(botcluster_poll_errors_total{{{JOB}}}[{RATE}])) * 60",
                   "poll error {{reason}}"),
        ], "Polls of the comments API by outcome, failed polls by reason, and messages skipped"
           " as invalid. Alert: BotclusterPollUnreadable.", width=8),
    ])
    return [glance, replies, queue, heal, pool]


# ---------------------------------------------------------------------------------------------
# botcluster hosts

SLOTS = f"max by (host) (botcluster_host_slots{{{HOST}}} > 0)"
BUSY = f"botcluster_host_busy_seconds_total{{{HOST}}}"
UTILIZATION = f"sum by (host) (rate({BUSY}[{RATE}])) / {SLOTS}"
LLM_ERRORS = f'botcluster_llm_requests_total{{{HOST}, outcome=~"error|timeout"}}'
ERROR_RATIO = (
    f"sum by (host) (rate({LLM_ERRORS}[{RATE}])) / "
    f"sum by (host) (rate(botcluster_llm_requests_total{{{HOST}}}[{RATE}]))"
)


def hosts_table() -> Panel:
    columns = [
        ("Up", f"max by (host) (botcluster_host_up{{{HOST}}})"),
        ("Slots used", f"max by (host) (botcluster_host_inflight{{{HOST}}})"),
        ("Slots", f"max by (host) (botcluster_host_slots{{{HOST}}})"),
        ("Utilization", UTILIZATION),
        ("Wait p95", hq(0.95, "botcluster_host_wait_seconds", HOST, "host")),
        ("Models loaded", f"sum by (host) (botcluster_model_loaded{{{HOST}}})"),
        ("LLM errors", ERROR_RATIO),
    ]
    refs = "ABCDEFG"
    targets = [Target(expr, "", instant=True) for _, expr in columns]
    rename = {f"Value #{refs[i]}": name for i, (name, _) in enumerate(columns)}

    def unit(name: str, value: str) -> Json:
        return {"matcher": {"id": "byName", "options": name},
                "properties": [{"id": "unit", "value": value}]}

    return Panel(
        "Hosts", "table", targets,
        "One row per host, now. Up as the bot sees it; utilization = rate(host_busy_seconds) "
        "/ slots; wait p95 = time a runnable job waited for a slot on this host.",
        width=24, height=7,
        extra={
            "transformations": [
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {"excludeByName": {"Time": True},
                                               "renameByName": rename}},
            ],
            "overrides": [
                {"matcher": {"id": "byName", "options": "Up"},
                 "properties": [{"id": "mappings", "value": up_down_mappings()},
                                {"id": "custom.cellOptions",
                                 "value": {"type": "color-background"}}]},
                unit("Utilization", "percentunit"),
                unit("Wait p95", "s"),
                unit("LLM errors", "percentunit"),
            ],
        },
    )


def hosts_rows() -> list[Row]:
    glance = Row("At a glance", [hosts_table()])
    capacity = Row("Capacity", [
        Panel("Host up", "state-timeline",
              [Target(f"max by (host) (botcluster_host_up{{{HOST}}})", "{{host}}")],
              "Health as the bot sees it. Alerts: BotclusterHostDown, BotclusterAllHostsDown.",
              extra={"mappings": up_down_mappings(),
                     "thresholds": thresholds((None, "red"), (1, "green"))}),
        Panel("Slots used / total", "timeseries", [
            Target(f"max by (host) (botcluster_host_inflight{{{HOST}}})", "{{host}} used"),
            Target(f"max by (host) (botcluster_host_slots{{{HOST}}})", "{{host}} total"),
        ], "Slots leased to running jobs against the host's slots. Used = total for long "
           "while jobs wait: BotclusterHostSaturated.",
            extra={"overrides": [{
                "matcher": {"id": "byRegexp", "options": ".* total$"},
                "properties": [{"id": "custom.lineStyle",
                                "value": {"fill": "dash", "dash": [10, 10]}}],
            }]}),
        Panel("Utilization", "timeseries", [Target(UTILIZATION, "{{host}}")],
              "rate(host_busy_seconds_total) / host_slots: the share of slot-time in use.",
              unit="percentunit", extra={"max": 1}),
        Panel("Serialization wait p95", "timeseries", [
            Target(hq(0.95, "botcluster_host_wait_seconds", HOST, "host"), "{{host}} p95"),
            Target(hq(0.5, "botcluster_host_wait_seconds", HOST, "host"), "{{host}} p50"),
        ], "How long a runnable job waited for a slot on the host it got.", unit="s"),
    ])
    models = Row("Models", [
        Panel("Loaded models", "state-timeline",
              [Target(f"max by (host, model) (botcluster_model_loaded{{{HOST}}}) > 0",
                      "{{host}} {{model}}")],
              "Which model the bot believes is loaded where (a bar while loaded).",
              extra={"mappings": [{"type": "value",
                                   "options": {"1": {"text": "loaded", "color": "green"}}}]}),
        Panel("Model loads and evictions per hour", "timeseries", [
            Target(f"sum by (host, outcome) (rate(botcluster_model_loads_total{{{HOST}}}[{RATE}]))"
                   " * 3600", "{{host}} load {{outcome}}"),
            Target(f"sum by (host) (rate(botcluster_model_evictions_total{{{HOST}}}[{RATE}]))"
                   " * 3600", "{{host}} evictions"),
        ], "Swaps cost seconds to minutes each. Many loads with evictions: the hot models do "
           "not fit together. Alert on error/oom: BotclusterModelLoadFailures."),
        Panel("Model load time p95", "timeseries",
              [Target(hq(0.95, "botcluster_model_load_seconds", HOST, "host"), "{{host}}")],
              "Time to load a model.", unit="s"),
        Panel("Generation time p50 / p95", "timeseries", [
            Target(hq(0.5, "botcluster_generation_seconds", HOST, "host"), "{{host}} p50"),
            Target(hq(0.95, "botcluster_generation_seconds", HOST, "host"), "{{host}} p95"),
        ], "LLM call time per host.", unit="s"),
    ])
    errors = Row("Requests and errors", [
        Panel("LLM requests per minute by outcome", "timeseries",
              [Target(f"sum by (host, outcome) (rate(botcluster_llm_requests_total{{{HOST}}}"
                      f"[{RATE}])) * 60", "{{host}} {{outcome}}")],
              "ok, error, timeout.", width=8),
        Panel("LLM error ratio", "timeseries", [Target(ERROR_RATIO, "{{host}}")],
              "Errors and timeouts over all calls. Alert: BotclusterHostErrors (20%).",
              width=8, unit="percentunit"),
        Panel("Demand: replies per minute by entity", "timeseries",
              [Target(f"sum by (entity) (rate({REPLIED}[{RATE}])) * 60", "{{entity}}")],
              "Replies posted per minute for each selected entity: the load the hosts serve.",
              width=8),
    ])
    return [glance, capacity, models, model_queue_rows(), errors]


def model_queue_rows() -> Row:
    """Per model: where the queue waits, what loads cost, what is loading now."""
    return Row("Per model: queue and loads", [
        Panel("Queue wait p95 by model", "timeseries",
              [Target(hq(0.95, "botcluster_model_queue_wait_seconds", JOB, "model"),
                      "{{model}}")],
              "How long a runnable job of each model waited for a slot or a load. Alert: "
              "BotclusterModelWaitsWhileHostsIdle.", width=8, unit="s"),
        Panel("Oldest ready job by model", "timeseries",
              [Target(f"max by (model) (botcluster_model_queue_oldest_wait_seconds{{{JOB}}})"
                      " > 0", "{{model}}")],
              "Age of each model's oldest job ready to run; with idle hosts it points to a "
              "model nobody loads.", width=8, unit="s"),
        Panel("Ready jobs by model", "timeseries",
              [Target(f"sum by (model) (botcluster_model_queue_ready{{{JOB}}}) > 0",
                      "{{model}}")],
              "The queue split by model: a long one justifies a replica on another host.",
              width=8),
        Panel("Loads per hour by model", "timeseries",
              [Target(f"sum by (model, outcome) (rate(botcluster_model_loads_by_model_total"
                      f"{{{JOB}}}[{RATE}])) * 3600", "{{model}} {{outcome}}")],
              "Loads that ended, by model and outcome. A model loaded again and again does "
              "not fit beside the others it is evicted for.", width=8),
        Panel("Load time p95 by model", "timeseries",
              [Target(hq(0.95, "botcluster_model_load_duration_seconds", JOB, "model"),
                      "{{model}}")],
              "From granting a load to its end (unloads first). Feeds the scheduler's load "
              "speed estimate.", width=8, unit="s"),
        Panel("Loading", "state-timeline",
              [Target(f"max by (host, model) (botcluster_model_loading{{{HOST}}}) > 0",
                      "{{host}} {{model}}")],
              "A bar while a model is being loaded on a host (also in botcluster status). "
              "Share of time loading: next panel.", width=8,
              extra={"mappings": [{"type": "value",
                                   "options": {"1": {"text": "loading", "color": "blue"}}}]}),
        Panel("Time in loading by host", "timeseries",
              [Target(f"sum by (host) (rate(botcluster_model_loading_seconds_total{{{HOST}}}"
                      f"[{RATE}]))", "{{host}}")],
              "Seconds of loading per second: 1 means the host loaded all the time.",
              width=8, unit="percentunit"),
    ])


# ---------------------------------------------------------------------------------------------
# JSON


def target_json(target: Target, ref: str) -> Json:
    return {
        "datasource": DS,
        "editorMode": "code",
        "expr": target.expr,
        "instant": target.instant,
        "range": not target.instant,
        "legendFormat": target.legend,
        "format": "table" if target.instant else "time_series",
        "refId": ref,
    }


def panel_json(panel: Panel, pid: int, x: int, y: int) -> Json:
    extra = dict(panel.extra)
    defaults: Json = {"unit": panel.unit}
    for key in ("max", "mappings", "thresholds"):
        if key in extra:
            defaults[key] = extra.pop(key)
    if "extra_mappings" in extra:
        defaults["mappings"] = extra.pop("extra_mappings")
    if "extra_thresholds" in extra:
        defaults["thresholds"] = extra.pop("extra_thresholds")
    options: Json = {}
    if panel.kind == "timeseries":
        stacked = extra.pop("stack", False)
        defaults["min"] = 0
        defaults["custom"] = {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
            "spanNulls": False, "stacking": {"mode": "normal" if stacked else "none"},
        }
        options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                   "tooltip": {"mode": "multi", "sort": "desc"}}
    elif panel.kind == "stat":
        options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                   "colorMode": "value", "graphMode": "area", "textMode": "auto",
                   "justifyMode": "auto", "orientation": "auto"}
    elif panel.kind == "state-timeline":
        options = {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                   "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
                   "tooltip": {"mode": "single", "sort": "none"}}
    elif panel.kind == "table":
        options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    overrides = extra.pop("overrides", [])
    refs = "ABCDEFGHIJ"
    return {
        "id": pid,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DS,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": overrides},
        "options": options,
        "targets": [target_json(t, refs[i]) for i, t in enumerate(panel.targets)],
        **extra,
    }


def layout(rows: list[Row]) -> list[Json]:
    """Rows top to bottom; panels left to right, wrapping at the grid's 24 columns."""
    out: list[Json] = []
    pid, y = 1, 0
    for row in rows:
        out.append({"id": pid, "type": "row", "title": row.title, "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        pid, y = pid + 1, y + 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, line_height = 0, y + line_height, 0
            out.append(panel_json(panel, pid, x, y))
            pid, x, line_height = pid + 1, x + panel.width, max(line_height, panel.height)
        y += line_height
    return out


def query_variable(name: str, label: str, metric: str, selector: str = JOB) -> Json:
    query = f'label_values({metric}{{{selector}}}, {name})'
    return {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "definition": query,
        "query": {"qryType": 1, "query": query,
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "includeAll": True, "multi": True, "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "refresh": 2, "sort": 1, "regex": "", "hide": 0, "options": [], "skipUrlSync": False,
    }


def templating() -> Json:
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource",
         "query": "prometheus", "current": {}, "hide": 0, "includeAll": False, "multi": False,
         "options": [], "refresh": 1, "regex": "", "skipUrlSync": False},
        query_variable("instance", "Bot", "up", JOB_ONLY),
        query_variable("host", "Host", "botcluster_host_up"),
        query_variable("entity", "Entity", "botcluster_jobs_total"),
    ]}


def dashboard(uid: str, title: str, description: str, rows: list[Row]) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["botcluster"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "weekStart": "",
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard",
        }]},
        "links": [{"title": "botcluster", "type": "dashboards", "tags": ["botcluster"],
                   "asDropdown": False, "includeVars": True, "keepTime": True,
                   "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}],
        "templating": templating(),
        "panels": layout(rows),
    }


def dashboards() -> dict[str, Json]:
    return {
        "botcluster-overview.json": dashboard(
            "botcluster-overview", "botcluster overview",
            "Replies, queue, healing and the worker pool of the botcluster bot. "
            "Runbooks: docs/OPERATIONS.md.", overview_rows()),
        "botcluster-hosts.json": dashboard(
            "botcluster-hosts", "botcluster hosts",
            "The LLM hosts as the bot sees them: health, slots, serialization, models, "
            "generation time and errors. Runbooks: docs/OPERATIONS.md.", hosts_rows()),
    }


def render(board: Json) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a JSON file differs from what this script writes")
    args = parser.parse_args(argv)
    stale = []
    for name, board in dashboards().items():
        path, text = HERE / name, render(board)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date, run python dashboards/generate.py:", ", ".join(stale),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
