"""`botcluster start`, `check` and `status`: parse options, then delegate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from botcluster.errors import ConfigError

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default="servers.toml",
    envvar="BOTCLUSTER_CONFIG", show_default=True, help="The servers.toml to use.")
EXIT_CONFIG = 2


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
def start(config_path: Path, api_url: str | None, metrics_port: str | None,
          log_level: str | None, log_format: str | None, burst: bool) -> None:
    """Start the bot: board (unless --api-url), local hosts, workers and /metrics.

    Ctrl-C (or SIGTERM) drains and stops everything; a second Ctrl-C stops at once.
    """
    overrides = _overrides(api_url=api_url, metrics_port=metrics_port, log_level=log_level,
                           log_format=log_format)
    config = load_config(config_path, overrides)
    exit_if_ports_taken(config)
    from botcluster.core.metrics_http import prepare_dir
    from botcluster.logs import setup_logging

    setup_logging(config.bot.log_level, config.bot.log_format)
    prepare_dir(config.metrics.multiproc_dir)  # before anything imports prometheus_client
    from botcluster.core.runtime import Runtime
    from botcluster.core.supervisor import run_supervisor

    sys.exit(run_supervisor(config, Runtime(config), burst))


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
