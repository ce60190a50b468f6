from __future__ import annotations

from botcluster.bench.results import StrategyResult, percentile, report, summarize, table
from botcluster.bench.workload import Request


def test_percentile_interpolates() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([0.0, 10.0], 0.95) == 9.5


def test_summarize_counts_lost_and_duplicates() -> None:
    reqs = [Request(t=float(i), entity="e", model="m", prompt_tokens=1, max_tokens=5, index=i)
            for i in range(3)]
    r = summarize(reqs, {0: 4.0, 1: 6.0}, bound_s=5.0, replies={0: 1, 1: 2})
    assert (r.replied, r.lost, r.duplicates) == (2, 1, 1)
    assert r.makespan_s == 6.0 and r.ratio_to_bound == 1.2
    assert r.p50_latency_s == 4.5


def test_report_and_table_show_skipped_strategies() -> None:
    data = report({"lower_bound_s": 10.0}, {"a": StrategyResult(makespan_s=12.0),
                                            "litellm": StrategyResult(skipped="not installed")})
    assert data["strategies"]["litellm"] == {"skipped": "not installed", "lost": 0}
    assert set(data["strategies"]["a"]) >= {"makespan_s", "ratio_to_bound", "p50_latency_s",
                                           "p95_latency_s", "loads", "evictions", "replied",
                                           "duplicates", "lost"}
    text = table(data)
    assert "skipped: not installed" in text and "| a | 12 |" in text


def test_latency_is_split_by_priority_when_the_workload_mixes_them() -> None:
    # priority 0 counts as 50, as on the site; request 3 is never answered
    reqs = [Request(t=0.0, entity="e", model="m", prompt_tokens=1, max_tokens=5,
                    priority=(50, 0, 80, 50)[i], index=i) for i in range(4)]
    r = summarize(reqs, {0: 4.0, 1: 6.0, 2: 1.0}, bound_s=5.0)
    split = r.extra["latency_by_priority_s"]
    assert list(split) == ["80", "50"]  # urgent first
    assert split["80"] == {"n": 1, "lost": 0, "p50": 1.0, "p95": 1.0}
    assert split["50"]["n"] == 3 and split["50"]["lost"] == 1 and split["50"]["p50"] == 5.0
    flat = summarize(reqs[:2], {0: 4.0, 1: 6.0}, bound_s=5.0)
    assert flat.extra == {}
