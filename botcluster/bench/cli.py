"""`botcluster bench`: compare scheduling strategies on simulated clusters.

    botcluster bench --cluster CLUSTER.toml --workload WORKLOAD.jsonl \
        [--strategies botcluster,serial,round-robin,litellm] [--time-scale 0.05] \
        [--json OUT.json] [--plot OUT.png]
    botcluster bench --generate swap [--size N] [--seed S] --out W.jsonl [--cluster-out C.toml]

Everything reported is in simulated seconds. See benchmarks/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from botcluster.bench import plot as plotting
from botcluster.bench.generate import DEFAULT_SIZES, cluster_toml, generate, interference_note
from botcluster.bench.matrix import load_matrix, run_matrix
from botcluster.bench.results import dumps, table
from botcluster.bench.runner import STRATEGIES, BenchSettings, run_bench
from botcluster.bench.workload import load_workload, save_workload
from botcluster.errors import ConfigError

FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("bench")
@click.option("--cluster", "cluster_file", type=FILE, help="The simulator's cluster file.")
@click.option("--workload", "workload_file", type=FILE, help="JSON lines, one message each.")
@click.option("--strategies", default=",".join(STRATEGIES), show_default=True,
              help="Comma-separated: " + ", ".join(STRATEGIES) + ".")
@click.option("--time-scale", type=click.FloatRange(min=0.001, max=1.0), default=0.05,
              show_default=True, help="Real seconds per simulated second.")
@click.option("--json", "json_out", type=FILE, help="Write the report as JSON here.")
@click.option("--plot", "plot_out", type=FILE, help="Write a PNG comparing strategies here.")
@click.option("--max-real-s", type=float, default=900.0, show_default=True,
              help="Give up on a strategy after this many real seconds.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep each run's logs and files here (default: a removed temp dir).")
@click.option("--generate", "kind", type=click.Choice(sorted(DEFAULT_SIZES)),
              help="Generate a workload instead of running one.")
@click.option("--size", type=click.IntRange(min=1), help="Messages to generate.")
@click.option("--seed", type=int, default=1, show_default=True, help="Generator seed.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Where --generate writes the workload; the folder --matrix writes to.")
@click.option("--matrix", "matrix_file", type=FILE,
              help="Run every regime of this matrix file (see benchmarks/README.md).")
@click.option("--only", help="With --matrix: comma-separated regimes to run (default: all).")
@click.option("--report-only", is_flag=True,
              help="With --matrix: rebuild the tables and plots from the reports in --out.")
@click.option("--results-md", type=FILE,
              help="With --matrix: put the tables between the matrix markers of this file.")
@click.option("--cluster-out", type=FILE, help="Where --generate writes its cluster file.")
def bench(cluster_file: Path | None, workload_file: Path | None, strategies: str,
          time_scale: float, json_out: Path | None, plot_out: Path | None, max_real_s: float,
          workdir: Path | None, kind: str | None, size: int | None, seed: int,
          out: Path | None, cluster_out: Path | None, matrix_file: Path | None,
          only: str | None, report_only: bool, results_md: Path | None) -> None:
    """Compare scheduling strategies on simulated clusters."""
    if matrix_file is not None:
        _matrix(matrix_file, out, strategies, only, results_md, not report_only)
        return
    if kind is not None:
        _generate(kind, size, seed, out, cluster_out)
        return
    if cluster_file is None or workload_file is None:
        raise click.UsageError("--cluster and --workload are required (or use --generate)")
    names = [s.strip() for s in strategies.split(",") if s.strip()]
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise click.BadParameter(f"unknown strategy {unknown[:1]}; use {', '.join(STRATEGIES)}",
                                 param_hint="--strategies")
    if plot_out is not None and not plotting.available():
        raise click.ClickException(f"--plot needs matplotlib: {plotting.INSTALL}")
    try:
        requests = load_workload(workload_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = BenchSettings(cluster_file=cluster_file, time_scale=time_scale,
                             max_real_s=max_real_s, workdir=workdir)
    try:
        data = run_bench(requests, settings, names)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(table(data))
    if json_out is not None:
        json_out.write_text(dumps(data))
    if plot_out is not None:
        plotting.plot(data, plot_out, title=f"{workload_file.name} on {cluster_file.name}")
    bot = data["strategies"].get("botcluster", {})
    if bot.get("lost") or bot.get("duplicates"):
        sys.exit(1)  # botcluster lost or duplicated a reply (or did not run): a failure


def _generate(kind: str, size: int | None, seed: int, out: Path | None,
              cluster_out: Path | None) -> None:
    if out is None:
        raise click.UsageError("--generate needs --out WORKLOAD.jsonl")
    try:
        scenario = generate(kind, size, seed)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    save_workload(scenario.requests, out)
    click.echo(f"wrote {len(scenario.requests)} messages to {out}")
    if cluster_out is not None:
        note = (f"Cluster of the '{kind}' benchmark workload (seed {seed}).\n"
                f"botcluster bench --generate {kind} --seed {seed} --out W --cluster-out C\n"
                f"{interference_note(scenario.cluster)}")
        cluster_out.write_text(cluster_toml(scenario.cluster, note))
        click.echo(f"wrote the cluster to {cluster_out}")


def _matrix(matrix_file: Path, out: Path | None, strategies: str, only: str | None,
            results_md: Path | None, run: bool) -> None:
    if out is None:
        raise click.UsageError("--matrix needs --out FOLDER")
    try:
        matrix = load_matrix(matrix_file)
        names = _split(strategies) if strategies != ",".join(STRATEGIES) else None
        bad = [s for s in names or [] if s not in STRATEGIES]
        if bad:
            raise click.BadParameter(f"unknown strategy {bad[0]!r}", param_hint="--strategies")
        picked = _split(only) if only else None
        unknown = [r for r in picked or [] if r not in {g.name for g in matrix.regimes}]
        if unknown:
            raise click.BadParameter(f"no regime {unknown[0]!r} in {matrix_file}",
                                     param_hint="--only")
        run_matrix(matrix, out, names, picked, results_md, echo=click.echo, run=run)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out / 'matrix.md'}" + (f" and {results_md}" if results_md else ""))


def _split(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]
