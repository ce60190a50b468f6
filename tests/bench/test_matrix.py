"""The regime matrix: its file, its tables, and the splice into RESULTS.md (no runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from botcluster.bench.generate import cluster_toml, generate
from botcluster.bench.matrix import Matrix, load_matrix
from botcluster.bench.matrix_report import BEGIN, END, markdown, splice
from botcluster.bench.workload import save_workload
from botcluster.errors import ConfigError

ROOT = Path(__file__).parents[2]


def test_the_shipped_matrix_names_every_regime_and_its_files_exist() -> None:
    m = load_matrix(ROOT / "benchmarks/matrix.toml")
    names = {r.name for r in m.regimes}
    assert {"burst", "day", "swap", "large", "many", "hotspot", "flash", "unequal"} <= names
    for r in m.regimes:
        assert r.cluster.exists() and r.workload.exists(), r.name
        assert 0 < r.time_scale <= 1


def test_a_matrix_file_with_a_bad_strategy_or_no_regime_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('strategies = ["nope"]\n')
    with pytest.raises(ConfigError, match="strategies"):
        load_matrix(path)
    path.write_text('strategies = ["serial"]\n')
    with pytest.raises(ConfigError, match="regimes"):
        load_matrix(path)
    path.write_text('[[regimes]]\nname = "x"\ncluster = "c.toml"\n')
    with pytest.raises(ConfigError, match=r"regimes\[0\]\.workload"):
        load_matrix(path)


def _matrix(tmp_path: Path) -> Matrix:
    s = generate("unequal", 20, seed=2)
    save_workload(s.requests, tmp_path / "w.jsonl")
    (tmp_path / "c.toml").write_text(cluster_toml(s.cluster))
    (tmp_path / "m.toml").write_text(
        'strategies = ["serial", "warm-first"]\n[[regimes]]\nname = "uneq"\n'
        'cluster = "c.toml"\nworkload = "w.jsonl"\nwhat = "unequal hosts"\n')
    return load_matrix(tmp_path / "m.toml")


def _report(bound_s: float) -> dict[str, Any]:
    row = {"makespan_s": 310.0, "ratio_to_bound": 1.033, "p50_latency_s": 9.0,
           "p95_latency_s": 20.0, "p99_latency_s": 30.0, "loads": 4, "evictions": 1,
           "peak_predictions": {"studio-1": 4, "studio-2": 2}, "replied": 20, "duplicates": 0,
           "lost": 0}
    return {"lower_bound_s": bound_s,
            "bound": {"work_s": 50.0, "arrivals_s": 280.0, "longest_job_s": 10.0,
                      "last_arrival_s": bound_s, "unavoidable_loads": 3},
            "strategies": {"serial": {**row, "lost": 2}, "warm-first": row},
            "run": {"load_average": 1.0, "commit": "abc1234"}}


def test_tables_give_every_column_and_a_latency_reference_under_open_arrivals(
        tmp_path: Path) -> None:
    m = _matrix(tmp_path)
    text = markdown(m, {"uneq": _report(300.0)}, tmp_path, tmp_path / "matrix")
    assert "| uneq | 1.033x, p95 20 s, 2 unanswered | 1.033x, p95 20 s |" in text
    assert "| warm-first | 310 | 1.033 | 9 | 20 | 30 | 4 | 1 | 4/2 | 20 | 0 | 0 |" in text
    assert "reference: idle, infinitely warm" in text and "Open arrivals" in text
    assert "studio-3: stops it" in text and "studio-2: slows it 30%" in text
    assert "binding term: last_arrival" in text and "commit abc1234" in text
    assert "load average after the run 1.0" in text


def test_no_reference_when_the_bound_is_the_work_not_the_arrivals(tmp_path: Path) -> None:
    m = _matrix(tmp_path)
    text = markdown(m, {"uneq": _report(2000.0)}, tmp_path, tmp_path / "matrix")
    assert "reference: idle" not in text and "Open arrivals" not in text


def test_splice_replaces_only_the_matrix_block(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nkept above\n")
    splice(path, "first")
    assert path.read_text() == f"# Results\n\nkept above\n\n{BEGIN}\nfirst\n{END}\n"
    path.write_text(path.read_text() + "kept below\n")
    splice(path, "second")
    text = path.read_text()
    assert "first" not in text and "second" in text
    assert text.startswith("# Results\n\nkept above\n") and text.endswith("kept below\n")
