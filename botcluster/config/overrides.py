"""Command-line and environment overrides applied on top of a loaded `Config`.

The CLI reads BOTCLUSTER_API_URL, BOTCLUSTER_METRICS_PORT, BOTCLUSTER_LOG_LEVEL and
BOTCLUSTER_LOG_FORMAT (or the matching options) and passes them here, as strings or already
parsed. They are checked with the same rules as the file; a `ConfigError` names the origin
("environment" or "command line") in place of the file and the variable or option as the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from botcluster.config.hosts import http_url, port
from botcluster.config.model import Config
from botcluster.config.reader import Table
from botcluster.config.sections import log_format as check_log_format
from botcluster.config.sections import log_level as check_log_level

ENV_NAMES: Mapping[str, str] = {
    "api_url": "BOTCLUSTER_API_URL",
    "metrics_port": "BOTCLUSTER_METRICS_PORT",
    "log_level": "BOTCLUSTER_LOG_LEVEL",
    "log_format": "BOTCLUSTER_LOG_FORMAT",
}
OPTION_NAMES: Mapping[str, str] = {
    "api_url": "--api-url",
    "metrics_port": "--metrics-port",
    "log_level": "--log-level",
    "log_format": "--log-format",
}


def apply_overrides(
    config: Config,
    *,
    api_url: str | None = None,
    metrics_port: int | str | None = None,
    log_level: str | None = None,
    log_format: str | None = None,
    origin: str = "environment",
    names: Mapping[str, str] = ENV_NAMES,
) -> Config:
    """A copy of `config` with the given values replaced; None leaves a value as it is.

    Errors read `{origin}: {names[field]}: {problem}`, e.g.
    `environment: BOTCLUSTER_METRICS_PORT: expected an integer, got 'abc'`. Pass
    `origin="command line", names=OPTION_NAMES` for values that came from options.
    """
    t = Table({}, "", config.source, label=origin)
    bot = config.bot
    metrics = config.metrics
    if api_url is not None:
        bot = dataclasses.replace(bot, api_url=http_url(t, names["api_url"], api_url))
    if log_level is not None:
        level = check_log_level(t, names["log_level"], log_level)
        bot = dataclasses.replace(bot, log_level=level)
    if log_format is not None:
        fmt = check_log_format(t, names["log_format"], log_format)
        bot = dataclasses.replace(bot, log_format=fmt)
    if metrics_port is not None:
        metrics = dataclasses.replace(metrics, port=_port(t, names["metrics_port"], metrics_port))
    return dataclasses.replace(config, bot=bot, metrics=metrics)


def _port(t: Table, name: str, value: int | str) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip(), 10)
        except ValueError:
            raise t.error(name, f"expected an integer, got {value!r}") from None
    return port(Table({name: value}, "", t.source, label=t.label), name, 0)
