"""`botcluster bench --matrix`: its usage errors, in-process (no run starts)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from botcluster.bench.cli import bench

MATRIX = str(Path(__file__).parents[2] / "benchmarks/matrix.toml")


def test_matrix_needs_an_output_folder() -> None:
    result = CliRunner().invoke(bench, ["--matrix", MATRIX])
    assert result.exit_code == 2 and "--matrix needs --out" in result.output


def test_matrix_rejects_an_unknown_regime_or_strategy(tmp_path: Path) -> None:
    result = CliRunner().invoke(bench, ["--matrix", MATRIX, "--out", str(tmp_path),
                                        "--only", "nope"])
    assert result.exit_code == 2 and "no regime 'nope'" in result.output
    result = CliRunner().invoke(bench, ["--matrix", MATRIX, "--out", str(tmp_path),
                                        "--strategies", "fastest"])
    assert result.exit_code == 2 and "unknown strategy 'fastest'" in result.output
    assert not (tmp_path / "matrix").exists()


def test_a_broken_matrix_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "m.toml"
    bad.write_text("regimes = 3 [")
    result = CliRunner().invoke(bench, ["--matrix", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == 1 and "m.toml" in result.output


def test_report_only_rebuilds_the_tables_from_the_reports_without_running(
        tmp_path: Path) -> None:
    row = {"makespan_s": 70.0, "ratio_to_bound": 1.2, "p50_latency_s": 30.0,
           "p95_latency_s": 60.0, "p99_latency_s": 65.0, "loads": 3, "evictions": 0,
           "peak_predictions": {"studio-1": 1, "studio-2": 1}, "replied": 29, "duplicates": 0,
           "lost": 0}
    report = {"lower_bound_s": 58.0, "bound": {"work_s": 58.0, "unavoidable_loads": 2},
              "strategies": {"warm-first": row}}
    (tmp_path / "matrix").mkdir()
    (tmp_path / "matrix" / "burst.json").write_text(json.dumps(report))
    results = tmp_path / "RESULTS.md"
    result = CliRunner().invoke(bench, ["--matrix", MATRIX, "--out", str(tmp_path),
                                        "--report-only", "--results-md", str(results)])
    assert result.exit_code == 0, result.output
    text = results.read_text()
    assert "| warm-first | 70 | 1.2 | 30 | 60 | 65 | 3 | 0 | 1/1 | 29 | 0 | 0 |" in text
    assert "| many | not run |" in text
