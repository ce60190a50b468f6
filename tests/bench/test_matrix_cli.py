"""`botcluster bench --matrix`: its usage errors, in-process (no run starts)."""

from __future__ import annotations

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
