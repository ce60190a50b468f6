"""The regime matrix: every strategy on every regime of a matrix file, in one command.

    botcluster bench --matrix benchmarks/matrix.toml --out benchmarks/results/ \
        [--strategies ...] [--only burst,many] [--results-md benchmarks/RESULTS.md]

The matrix file (TOML) has top-level defaults `time_scale`, `max_real_s` and `strategies`, and
one `[[regimes]]` table per regime: `name`, `cluster` and `workload` (paths relative to the
matrix file), `what` (one line), and optional `time_scale` / `max_real_s` overrides.

Each regime's report goes to OUT/matrix/NAME.json (merged with the strategies already there, so
a later run of one strategy adds its row) and its plot to OUT/matrix/NAME.png; the tables of
all regimes to OUT/matrix.md, and, with `--results-md`, between the matrix markers of that file.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botcluster.bench import plot as plotting
from botcluster.bench.matrix_report import markdown, splice
from botcluster.bench.results import dumps
from botcluster.bench.runner import STRATEGIES, BenchSettings, run_bench
from botcluster.bench.workload import load_workload
from botcluster.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Regime:
    name: str
    cluster: Path
    workload: Path
    what: str
    time_scale: float
    max_real_s: float


@dataclass(frozen=True)
class Matrix:
    path: Path
    regimes: tuple[Regime, ...]
    strategies: tuple[str, ...]


def load_matrix(path: Path) -> Matrix:
    """Read a matrix file; ConfigError naming the file and key when it is unusable."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), "", str(exc)) from exc
    scale = float(data.get("time_scale", 0.05))
    max_real = float(data.get("max_real_s", 900.0))
    strategies = tuple(data.get("strategies", STRATEGIES))
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ConfigError(str(path), "strategies", f"unknown strategy {unknown[0]!r}")
    regimes = []
    for i, r in enumerate(data.get("regimes", [])):
        where = f"regimes[{i}]"
        for key in ("name", "cluster", "workload"):
            if not isinstance(r.get(key), str):
                raise ConfigError(str(path), f"{where}.{key}", "required string")
        regimes.append(Regime(
            name=r["name"], cluster=path.parent / r["cluster"],
            workload=path.parent / r["workload"], what=str(r.get("what", "")),
            time_scale=float(r.get("time_scale", scale)),
            max_real_s=float(r.get("max_real_s", max_real))))
    if not regimes:
        raise ConfigError(str(path), "regimes", "at least one [[regimes]] table is required")
    return Matrix(path, tuple(regimes), strategies)


def run_matrix(matrix: Matrix, out: Path, strategies: Sequence[str] | None = None,
               only: Sequence[str] | None = None, results_md: Path | None = None,
               echo: Callable[[str], None] = print, run: bool = True) -> str:
    """Run the regimes (all, or `only`) with `strategies` (default: the file's), write the
    reports, plots and tables; returns the Markdown of the whole matrix. With `run` False,
    only rebuild the tables and plots from the reports already in `out`."""
    names = list(strategies or matrix.strategies)
    chosen = [r for r in matrix.regimes if run and (not only or r.name in only)]
    folder = out / "matrix"
    folder.mkdir(parents=True, exist_ok=True)
    for regime in chosen:
        echo(f"== {regime.name}: {', '.join(names)} at time scale {regime.time_scale}")
        settings = BenchSettings(cluster_file=regime.cluster, time_scale=regime.time_scale,
                                 max_real_s=regime.max_real_s)
        data = run_bench(load_workload(regime.workload), settings, names)
        data["run"] = {"load_average": round(os.getloadavg()[0], 2), "commit": _commit(),
                       "time_scale": regime.time_scale, "max_real_s": regime.max_real_s}
        merged = _merge(folder / f"{regime.name}.json", data)
        (folder / f"{regime.name}.json").write_text(dumps(merged))
        if plotting.available():
            plotting.plot(merged, folder / f"{regime.name}.png", title=regime.name)
    reports = _reports(matrix, folder)
    if plotting.available() and reports:
        plotting.plot_matrix(reports, folder / "matrix.png")
    text = markdown(matrix, reports, out, folder)
    (out / "matrix.md").write_text(text)
    if results_md is not None:
        splice(results_md, text)
    return text


def _merge(path: Path, new: dict[str, Any]) -> dict[str, Any]:
    """`new` with the strategies of an earlier report of the same regime that it did not run
    (each strategy row keeps the run facts it was measured with)."""
    for r in new["strategies"].values():
        r.setdefault("run", new["run"])
    if not path.exists():
        return new
    old = json.loads(path.read_text())
    rows = {**old.get("strategies", {}), **new["strategies"]}
    new["strategies"] = {k: rows[k] for k in STRATEGIES if k in rows}
    return new


def _reports(matrix: Matrix, folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for r in matrix.regimes:
        path = folder / f"{r.name}.json"
        if path.exists():
            out[r.name] = json.loads(path.read_text())
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
