"""The Markdown of the regime matrix: a summary, then one table per regime.

For each regime: what a load does to its hosts, the lower bound and which of its terms binds;
where that term is the arrivals (open arrivals), the makespan says little about scheduling and
the table adds a latency reference: each message's generation time alone, as on an idle,
infinitely warm cluster (its fastest host, no wait, no load).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botcluster.bench.bound import service_s
from botcluster.bench.results import COLUMNS, cell, percentile
from botcluster.bench.workload import Request, load_workload
from botcluster.sim.spec import ClusterSpec, load_cluster

if TYPE_CHECKING:
    from botcluster.bench.matrix import Matrix, Regime

BEGIN = "<!-- matrix:begin (written by botcluster bench --matrix) -->"
END = "<!-- matrix:end -->"
LOOSE_AT = 0.5  # open arrivals: the last message arrives after half the bound


def interference(cluster: ClusterSpec) -> str:
    """What a load does to generation, host by host, in words."""
    parts = []
    for h in cluster.hosts:
        what = ("stops it" if h.load_blocks_generation else
                f"slows it {h.load_slowdown:.0%}" if h.load_slowdown else "nothing")
        parts.append(f"{h.name}: {what}")
    return "; ".join(parts)


def reference(requests: Sequence[Request], cluster: ClusterSpec) -> dict[str, float | None]:
    """p50/p95/p99 of the generation time alone (fastest host, no wait, no load)."""
    lat = [service_s(r, cluster.hosts) for r in requests]
    return {q: (None if (v := percentile(lat, p)) is None else round(v, 1))
            for q, p in (("p50_latency_s", 0.5), ("p95_latency_s", 0.95),
                         ("p99_latency_s", 0.99))}


def binding(bound: dict[str, Any]) -> str:
    terms = ("work_s", "arrivals_s", "longest_job_s", "last_arrival_s")
    return max(terms, key=lambda t: bound.get(t, 0.0))


def regime_section(regime: Regime, data: dict[str, Any], base: Path) -> list[str]:
    cluster = load_cluster(regime.cluster)
    requests = load_workload(regime.workload)
    bound = data["bound"]
    term = binding(bound)
    run = data.get("run", {})
    rel = os.path.relpath
    lines = [f"### {regime.name}", "", regime.what, "",
             f"Load interference: {interference(cluster)}.", "",
             "```", f"botcluster bench --cluster {rel(regime.cluster)} --workload "
             f"{rel(regime.workload)} --time-scale {regime.time_scale} "
             f"--max-real-s {regime.max_real_s:g}", "```",
             f"Lower bound {data['lower_bound_s']:g} s (binding term: {term.removesuffix('_s')};"
             f" {bound.get('unavoidable_loads', 0)} unavoidable loads); "
             f"1-minute load average after the run {run.get('load_average', '?')}, "
             f"commit {run.get('commit', '?')}.", ""]
    head = ["strategy", *[c[1] for c in COLUMNS]]
    rows = [head, ["---"] * len(head)]
    for name, r in data["strategies"].items():
        if "skipped" in r:
            rows.append([name, f"skipped: {r['skipped']}", *[""] * (len(head) - 2)])
        else:
            rows.append([name, *[cell(r.get(k)) for k, _ in COLUMNS]])
    loose = max(r.t for r in requests) >= LOOSE_AT * data["lower_bound_s"]
    if loose:
        ref = reference(requests, cluster)
        rows.append(["reference: idle, infinitely warm",
                     *[cell(ref[k]) if k in ref else "" for k, _ in COLUMNS]])
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if any(r.get("lost") for r in data["strategies"].values() if "skipped" not in r):
        lines += ["", "A strategy with unanswered messages was stopped at the run's limit "
                  f"(max_real_s {run.get('max_real_s', '?')} real seconds, or 20 times the "
                  "bound); its makespan and latencies count only the messages it answered."]
    if loose:
        lines += ["", "Open arrivals: the bound is set by the arrival of the last messages, so "
                  "it is loose and the makespan says little about scheduling; compare the "
                  "latencies with the reference row (generation time alone)."]
    png = base / "matrix" / f"{regime.name}.png"
    if png.exists():
        lines += ["", f"![{regime.name}]({rel(png, base.parent)})"]
    return [*lines, ""]


def summary(matrix: Matrix, reports: dict[str, dict[str, Any]]) -> list[str]:
    """Rows: regimes; columns: strategies; cells: x bound and p95."""
    names = [s for s in matrix.strategies
             if any(s in d["strategies"] for d in reports.values())]
    extra = sorted({s for d in reports.values() for s in d["strategies"]} - set(names))
    names += extra
    head = ["regime", *names]
    rows = [head, ["---"] * len(head)]
    for regime in matrix.regimes:
        data = reports.get(regime.name)
        if data is None:
            rows.append([regime.name, *["not run"] * len(names)])
            continue
        row = [regime.name]
        for n in names:
            r = data["strategies"].get(n)
            if r is None or "skipped" in r:
                row.append("-")
            else:
                row.append(f"{cell(r['ratio_to_bound'])}x, p95 {cell(r['p95_latency_s'])} s"
                           + (f", {r['lost']} unanswered" if r["lost"] else ""))
        rows.append(row)
    return ["| " + " | ".join(r) + " |" for r in rows]


def markdown(matrix: Matrix, reports: dict[str, dict[str, Any]], out: Path,
             folder: Path) -> str:
    lines = ["Makespan over the lower bound and p95 latency (simulated seconds), per regime and "
             "strategy:", "", *summary(matrix, reports), ""]
    png = folder / "matrix.png"
    if png.exists():
        lines += [f"![matrix]({os.path.relpath(png, out.parent)})", ""]
    for regime in matrix.regimes:
        if regime.name in reports:
            lines += regime_section(regime, reports[regime.name], out)
    return "\n".join(lines)


def splice(path: Path, text: str) -> None:
    """Put `text` between the matrix markers of `path` (appended, with markers, if absent)."""
    old = path.read_text() if path.exists() else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new)
