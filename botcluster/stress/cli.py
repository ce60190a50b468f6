"""`botcluster stress`: parse options into `StressSettings`, run, print, exit 0 only when every
message got exactly one visible reply."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import click

from botcluster.errors import ConfigError
from botcluster.stress.probes import sim_stats_urls
from botcluster.stress.report import render
from botcluster.stress.run import StressSettings, run_stress
from botcluster.stress.tab import TabTiming

EXIT_OK = 0
EXIT_FAILED = 1


@click.command(name="stress")
@click.option("--api-url", default="http://127.0.0.1:8787", show_default=True,
              envvar="BOTCLUSTER_API_URL", help="The comments API to test.")
@click.option("-n", "--messages", default=29, show_default=True, type=click.IntRange(1, 10000),
              help="Human messages to post, one browser tab each.")
@click.option("--entity", "entities", multiple=True, metavar="ID",
              help="Entity to address (repeatable; messages go round-robin). "
                   "Default: emotional-intelligence.")
@click.option("--deadline", default=120.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds from the start to wait for every reply.")
@click.option("--spread", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds over which to post the messages; 0 = all at once.")
@click.option("--settle", default=3.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to keep watching after the last reply (a duplicate shows then).")
@click.option("--tab-poll", default=1.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Seconds between a tab's polls for its own message (the site's: 1).")
@click.option("--sim-stats", "sim_stats", multiple=True, metavar="URL",
              help="A simulated host (its URL or /sim/stats URL) to read peak concurrency "
                   "from (repeatable).")
@click.option("--sim-ports-file", type=click.Path(dir_okay=False, path_type=Path),
              help="The --ports-file of `botcluster sim`: read every host in it.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as JSON here.")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def stress(api_url: str, messages: int, entities: tuple[str, ...], deadline: float,
           spread: float, settle: float, tab_poll: float, sim_stats: tuple[str, ...],
           sim_ports_file: Path | None, json_path: Path | None, log_level: str) -> None:
    """Replay the users' burst test against a comments API and account for every reply."""
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        urls = sim_stats_urls(sim_stats, sim_ports_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = StressSettings(api_url=api_url.rstrip("/"), messages=messages,
                              entities=entities or ("emotional-intelligence",),
                              deadline_s=deadline, spread_s=spread, settle_s=settle,
                              tab=TabTiming(poll_s=tab_poll), sim_stats_urls=tuple(urls))
    how = "all at once" if spread == 0 else f"over {spread:g}s"
    click.echo(f"stress: {messages} messages to {len(settings.entities)} "
               f"entit{'y' if len(settings.entities) == 1 else 'ies'} at {api_url}, {how}")
    report = asyncio.run(run_stress(settings))
    for line in render(report):
        click.echo(line)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)
