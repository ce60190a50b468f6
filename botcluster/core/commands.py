"""`botcluster start`, `check` and `status`: parse options, then delegate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from botcluster.errors import BotclusterError, ConfigError

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default="servers.toml",
    envvar="BOTCLUSTER_CONFIG", show_default=True, help="The servers.toml to use.")
EXIT_CONFIG = 2
EXIT_HALTED = 1  # as the supervisor's (core/supervisor.py)
BARE_DRY_RUN = -1  # what `--dry-run` without a number gives


def _overrides(**opts: Any) -> dict[str, Any]:
    return {k: v for k, v in opts.items() if v is not None}


def load_config(path: Path, overrides: dict[str, Any]) -> Any:
    """The validated config, or exit 2 with the one-line error on stderr.

    An override's error names the option or the environment variable it came from.
    """
    from botcluster.config import apply_overrides, load
    from botcluster.config.overrides import ENV_NAMES, OPTION_NAMES

    from_env = _from_environment(overrides)
    try:
        config = load(path)
        for key, value in overrides.items():
            origin, names = ("environment", ENV_NAMES) if key in from_env else (
                "command line", OPTION_NAMES)
            config = apply_overrides(config, **{key: value}, origin=origin, names=names)
        return config
    except ConfigError as exc:
        click.echo(f"config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def exit_if_ports_taken(config: Any) -> None:
    """Exit 2 with one line naming the config key when a port to serve is taken: before
    anything starts, so that nothing has to be stopped again."""
    from botcluster.core.ports import check_ports
    from botcluster.errors import PortInUse

    try:
        check_ports(config)
    except PortInUse as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _from_environment(overrides: dict[str, Any]) -> set[str]:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return set()
    env = click.core.ParameterSource.ENVIRONMENT
    return {k for k in overrides if ctx.get_parameter_source(k) == env}


@click.command()
@CONFIG_OPTION
@click.option("--api-url", envvar="BOTCLUSTER_API_URL",
              help="Comments API to serve instead of the embedded board (e.g. the real site).")
@click.option("--metrics-port", envvar="BOTCLUSTER_METRICS_PORT", help="Port of /metrics.")
@click.option("--log-level", envvar="BOTCLUSTER_LOG_LEVEL", help="DEBUG, INFO, WARNING...")
@click.option("--log-format", type=click.Choice(["text", "json"]),
              envvar="BOTCLUSTER_LOG_FORMAT", help="json: one object per line.")
@click.option("--burst", is_flag=True,
              help="Answer what is pending, wait until every reply is visible, then exit.")
@click.option("--dry-run", "dry_run", type=int, is_flag=False, flag_value=BARE_DRY_RUN,
              default=None, metavar="[N]",
              help="Print the replies for the first N pending messages (default 3, or --limit)"
                   " and exit; claims, posts and completes nothing.")
@click.option("--limit", type=click.IntRange(1), help="With --dry-run: how many messages.")
@click.option("--allow-demo-model", is_flag=True,
              help="Let the SmolLM2 demo model answer a comments API that is not local.")
def start(config_path: Path, api_url: str | None, metrics_port: str | None,
          log_level: str | None, log_format: str | None, burst: bool, dry_run: int | None,
          limit: int | None, allow_demo_model: bool) -> None:
    """Start the bot: board (unless --api-url), local hosts, workers and /metrics.

    Ctrl-C (or SIGTERM) drains and stops everything; a second Ctrl-C stops at once.
    """
    count = _dry_run_count(dry_run, limit)
    overrides = _overrides(api_url=api_url, metrics_port=metrics_port, log_level=log_level,
                           log_format=log_format)
    config = load_config(config_path, overrides)
    from botcluster.core.demo_guard import demo_model_refusal
    from botcluster.logs import setup_logging

    refusal = None if allow_demo_model or count else demo_model_refusal(config)
    if refusal is not None:
        click.echo(f"error: {refusal}", err=True)
        sys.exit(EXIT_CONFIG)
    setup_logging(config.bot.log_level, config.bot.log_format)
    if count:
        from botcluster.core.dryrun import run_dry

        sys.exit(run_dry(config, count, click.echo))
    from botcluster.core.locks import BotLock
    from botcluster.core.metrics_http import prepare_dir

    lock = BotLock.for_config(config)
    try:
        lock.acquire()  # first: the metrics directory may be a running bot's
        # Then the ports, before anything starts: a second bot hears about the lock first.
        exit_if_ports_taken(config)
        # Before anything imports prometheus_client.
        metrics_dir = prepare_dir(config.metrics.multiproc_dir, config.source)
    except ConfigError as exc:
        lock.release()
        click.echo(f"config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except BotclusterError as exc:
        click.echo(f"halting: {exc}", err=True)
        sys.exit(EXIT_HALTED)
    from botcluster.core.runtime import Runtime
    from botcluster.core.supervisor import run_supervisor

    try:
        code = run_supervisor(config, Runtime(config, lock), burst)
    finally:
        metrics_dir.remove()
    sys.exit(code)


def _dry_run_count(dry_run: int | None, limit: int | None) -> int | None:
    """How many messages a dry run answers (`--dry-run N` or `--dry-run --limit N`); None: no
    dry run."""
    if dry_run is None:
        if limit is not None:
            raise click.UsageError("--limit needs --dry-run")
        return None
    if dry_run == BARE_DRY_RUN:
        from botcluster.core.dryrun import DEFAULT_COUNT

        return limit or DEFAULT_COUNT
    if dry_run < 1:
        raise click.UsageError(f"--dry-run {dry_run}: give a number of messages, at least 1")
    if limit is not None and limit != dry_run:
        raise click.UsageError(f"--dry-run {dry_run} and --limit {limit} disagree; give one")
    return dry_run


@click.command()
@CONFIG_OPTION
@click.option("--api-url", envvar="BOTCLUSTER_API_URL", help="Comments API to check instead.")
def check(config_path: Path, api_url: str | None) -> None:
    """Validate the config and reach every host and the comments API, one line each.

    Exit status: 0 when everything answered, 1 when something did not, 2 for a config error.
    """
    config = load_config(config_path, _overrides(api_url=api_url))
    from botcluster.core.check import run_check

    sys.exit(run_check(config, click.echo))


@click.command()
@CONFIG_OPTION
@click.option("--url", help="The bot's metrics address, e.g. http://127.0.0.1:9464 "
              "(default: [metrics] of the config; without one, that address).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw status as JSON.")
@click.option("--watch", is_flag=True, help="Refresh every 2 s until Ctrl-C.")
def status(config_path: Path, url: str | None, as_json: bool, watch: bool) -> None:
    """Show the hosts, queue and recent failures of the running bot (from its metrics port).

    Works from any directory: without a servers.toml it asks 127.0.0.1:9464.
    """
    from botcluster.core.status import DEFAULT_URL, show_status

    if url is None:
        ctx = click.get_current_context()
        given = ctx.get_parameter_source("config_path") != click.core.ParameterSource.DEFAULT
        if given or config_path.exists():
            m = load_config(config_path, {}).metrics
            url = f"http://{m.host}:{m.port}"
        else:
            url = DEFAULT_URL
    sys.exit(show_status(url, as_json=as_json, watch=watch, echo=click.echo))
