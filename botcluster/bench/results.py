"""What one strategy achieved on one workload, and the report of all of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from botcluster.bench.workload import Request


@dataclass
class StrategyResult:
    """Simulated seconds throughout. `skipped` is set (with the reason) when it did not run."""

    makespan_s: float | None = None
    ratio_to_bound: float | None = None
    p50_latency_s: float | None = None
    p95_latency_s: float | None = None
    p99_latency_s: float | None = None
    loads: int = 0
    evictions: int = 0
    replied: int = 0
    duplicates: int = 0
    lost: int = 0
    busy_slot_s: float = 0.0
    peak_predictions: dict[str, int] = field(default_factory=dict)  # per host, from /sim/stats
    real_s: float = 0.0
    skipped: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out.pop("skipped") is not None:
            return {"skipped": self.skipped, "lost": self.lost}
        return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between closest ranks."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(requests: Sequence[Request], done_s: dict[int, float], bound_s: float,
              replies: dict[int, int] | None = None) -> StrategyResult:
    """Makespan, latencies, replied/lost/duplicates from per-request finish times.

    `replies`: distinct replies per request index where known (the bot strategy); a peer
    driver gets exactly one reply per completed request.
    """
    latencies = [done_s[r.index] - r.t for r in requests if r.index in done_s]
    makespan = max(done_s.values()) if done_s else None
    dups = sum(max(0, n - 1) for n in (replies or {}).values())
    return StrategyResult(
        makespan_s=_round(makespan),
        ratio_to_bound=_round(makespan / bound_s if makespan and bound_s > 0 else None, 3),
        p50_latency_s=_round(percentile(latencies, 0.50)),
        p95_latency_s=_round(percentile(latencies, 0.95)),
        p99_latency_s=_round(percentile(latencies, 0.99)),
        replied=len(done_s), duplicates=dups, lost=len(requests) - len(done_s),
        extra=by_priority(requests, done_s))


def by_priority(requests: Sequence[Request], done_s: dict[int, float]) -> dict[str, Any]:
    """p50/p95 latency per priority (0 counts as 50, as on the site), when the workload mixes
    priorities: what urgency bought. `n` counts the requests, `lost` those never replied."""
    groups: dict[int, list[Request]] = {}
    for r in requests:
        groups.setdefault(r.priority or 50, []).append(r)
    if len(groups) < 2:
        return {}
    out = {}
    for p, reqs in sorted(groups.items(), reverse=True):
        lat = [done_s[r.index] - r.t for r in reqs if r.index in done_s]
        out[str(p)] = {"n": len(reqs), "lost": len(reqs) - len(lat),
                       "p50": _round(percentile(lat, 0.50)), "p95": _round(percentile(lat, 0.95))}
    return {"latency_by_priority_s": out}


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def report(bound: dict[str, Any], results: dict[str, StrategyResult]) -> dict[str, Any]:
    return {"lower_bound_s": bound["lower_bound_s"], "bound": bound,
            "strategies": {name: r.to_dict() for name, r in results.items()}}


COLUMNS = [("makespan_s", "makespan s"), ("ratio_to_bound", "x bound"),
           ("p50_latency_s", "p50 s"), ("p95_latency_s", "p95 s"), ("p99_latency_s", "p99 s"),
           ("loads", "loads"), ("evictions", "evictions"),
           ("peak_predictions", "peak predictions per host"), ("replied", "replied"),
           ("duplicates", "dup"), ("lost", "lost")]


def cell(value: Any) -> str:
    """A table cell: '-' for missing, numbers as %g, per-host counts joined by '/'."""
    if value is None:
        return "-"
    if isinstance(value, dict):
        return "/".join(str(v) for v in value.values()) or "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def table(data: dict[str, Any]) -> str:
    """A Markdown table of a report (also readable in a terminal)."""
    head = ["strategy", *[c[1] for c in COLUMNS]]
    rows = [head, ["---"] * len(head)]
    for name, r in data["strategies"].items():
        if "skipped" in r:
            rows.append([name, f"skipped: {r['skipped']}", *[""] * (len(head) - 2)])
            continue
        rows.append([name, *[cell(r.get(k)) for k, _ in COLUMNS]])
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.append(f"\nlower bound: {data['lower_bound_s']:g} s (simulated)")
    return "\n".join(lines)


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
