"""The single-table sections: `[bot]`, `[board]`, `[metrics]`, `[heal]`."""

from __future__ import annotations

from typing import get_args

from botcluster.config.hosts import http_url, port
from botcluster.config.model import (
    WORKER_ID_MAX,
    WORKER_ID_RE,
    BoardConfig,
    BotConfig,
    Dialect,
    HealConfig,
    LogFormat,
    MetricsConfig,
    default_worker_id,
)
from botcluster.config.reader import Table
from botcluster.config.sitefile import SiteFile

DIALECTS: tuple[Dialect, ...] = get_args(Dialect)
LOG_FORMATS: tuple[LogFormat, ...] = get_args(LogFormat)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_BOT = BotConfig()
_BOARD = BoardConfig()
_METRICS = MetricsConfig()
_HEAL = HealConfig()


def positive(t: Table, name: str, default: float) -> float:
    value = t.number(name, default)
    t.check(value > 0, name, f"must be > 0, got {value}")
    return value


def at_least_one(t: Table, name: str, default: int) -> int:
    value = t.integer(name, default)
    t.check(value >= 1, name, f"must be >= 1, got {value}")
    return value


def one_of(t: Table, name: str, value: str, allowed: tuple[str, ...]) -> str:
    t.check(value in allowed, name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def parse_bot(t: Table, site: SiteFile | None) -> BotConfig:
    """`[bot]`; the site file's polling interval and retries fill keys the TOML leaves unset."""
    api_url = t.opt_text("api_url")
    poll = _BOT.poll_interval_s
    attempts = _BOT.max_attempts
    if site is not None:
        poll = site.poll_interval_s or poll
        attempts = max(1, site.max_retries) if site.max_retries is not None else attempts
    bot = BotConfig(
        api_url=None if api_url is None else http_url(t, "api_url", api_url),
        dialect=_dialect(t),
        poll_interval_s=positive(t, "poll_interval_s", poll),
        workers=at_least_one(t, "workers", _BOT.workers),
        jobs_per_worker=at_least_one(t, "jobs_per_worker", _BOT.jobs_per_worker),
        journal_path=t.file_path("journal_path", _BOT.journal_path),
        lock=t.flag("lock", _BOT.lock),
        max_attempts=at_least_one(t, "max_attempts", attempts),
        generation_timeout_s=positive(t, "generation_timeout_s", _BOT.generation_timeout_s),
        connect_timeout_s=positive(t, "connect_timeout_s", _BOT.connect_timeout_s),
        lease_s=positive(t, "lease_s", _BOT.lease_s),
        worker_id=_worker_id(t),
        log_level=log_level(t, "log_level", t.text("log_level", _BOT.log_level)),
        log_format=log_format(t, "log_format", t.text("log_format", _BOT.log_format)),
    )
    t.finish()
    return bot


def _dialect(t: Table) -> Dialect:
    value = t.text("dialect", _BOT.dialect)
    for d in DIALECTS:
        if d == value:
            return d
    raise t.error("dialect", f"{value!r} is not one of {', '.join(DIALECTS)}")


def _worker_id(t: Table) -> str:
    value = t.text("worker_id", default_worker_id())
    t.check(value.strip() != "", "worker_id", "must not be empty")
    t.check(len(value) <= WORKER_ID_MAX, "worker_id",
            f"{len(value)} characters; at most {WORKER_ID_MAX}")
    t.check(WORKER_ID_RE.fullmatch(value) is not None, "worker_id",
            f"{value!r}: use letters, digits, '.', '_' and '-', starting with a letter or "
            "digit (the server's claims carry it, as '{worker_id}-wN')")
    return value


def log_level(t: Table, name: str, value: str) -> str:
    """A logging level name, case-insensitive; returned upper-case."""
    return one_of(t, name, value.upper(), LOG_LEVELS)


def log_format(t: Table, name: str, value: str) -> LogFormat:
    for f in LOG_FORMATS:
        if f == value:
            return f
    raise t.error(name, f"{value!r} is not one of {', '.join(LOG_FORMATS)}")


def parse_board(t: Table) -> BoardConfig:
    host = t.text("host", _BOARD.host)
    t.check(host.strip() != "", "host", "must not be empty")
    board = BoardConfig(
        host=host,
        port=port(t, "port", _BOARD.port),
        db_path=t.file_path("db_path", _BOARD.db_path),
        admin_token_env=t.env_name("admin_token_env"),
    )
    t.finish()
    return board


def parse_metrics(t: Table) -> MetricsConfig:
    host = t.text("host", _METRICS.host)
    t.check(host.strip() != "", "host", "must not be empty")
    metrics = MetricsConfig(
        enabled=t.flag("enabled", _METRICS.enabled),
        host=host,
        port=port(t, "port", _METRICS.port),
        multiproc_dir=t.opt_path("multiproc_dir"),
        poll_stale_s=_opt_positive(t, "poll_stale_s"),
    )
    t.finish()
    return metrics


def _opt_positive(t: Table, name: str) -> float | None:
    value = t.opt_number(name)
    t.check(value is None or value > 0, name, f"must be > 0, got {value}")
    return value


def parse_heal(t: Table) -> HealConfig:
    initial = positive(t, "initial_backoff_s", _HEAL.initial_backoff_s)
    maximum = positive(t, "max_backoff_s", _HEAL.max_backoff_s)
    t.check(maximum >= initial, "max_backoff_s", f"must be >= initial_backoff_s ({initial})")
    t.finish()
    return HealConfig(initial_backoff_s=initial, max_backoff_s=maximum)
