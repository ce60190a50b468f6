"""`botcluster board`: parse options into `BoardSettings` and run the board until a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType, MappingProxyType
from typing import Literal

import click
import uvicorn

from botcluster.board.app import create_app
from botcluster.board.settings import MAX_BODY_BYTES, BoardSettings, FaultSettings
from botcluster.errors import ConfigError
from botcluster.logs import setup_logging
from botcluster.proc import watch_parent

log = logging.getLogger(__name__)

TOKEN_ENV = "BOTCLUSTER_BOARD_TOKEN"


def _entities(values: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        entity_id, sep, username = value.partition("=")
        if not sep or not entity_id.strip() or not username.strip():
            raise click.BadParameter(f"{value!r}: expected ID=USERNAME", param_hint="--entity")
        found[entity_id.strip()] = username.strip()
    return found


@click.command(name="board")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535),
              help="Port; 0 picks a free one (printed).")
@click.option("--db", "db_path", default="var/board.sqlite3", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="SQLite file.")
@click.option("--dialect", type=click.Choice(["kv", "do"]), default="kv", show_default=True,
              help="kv: the site's KV worker; do: the later Durable Objects worker.")
@click.option("--cache-race", is_flag=True, help="Reproduce the cache's lost update.")
@click.option("--race-pause-ms", default=5.0, show_default=True,
              type=click.FloatRange(0, 60000), help="Pause between cache read and write.")
@click.option("--claim-race", is_flag=True, help="Unlocked claim read-modify-write (two winners).")
@click.option("--error-rate", default=0.0, type=click.FloatRange(0, 1),
              help="Fraction of requests answered 500 or 503.")
@click.option("--latency", "latency_ms", default=0.0, type=click.FloatRange(0, 60000),
              help="Milliseconds added to every request.")
@click.option("--stale-reads", "stale_reads_s", default=0.0, type=click.FloatRange(0, 60000),
              help="Serve cache reads from a snapshot up to N seconds old.")
@click.option("--seed", type=int, default=None, help="Seed of the RNG (errors, generated ids).")
@click.option("--admin-token", default=None, envvar=TOKEN_ENV, show_envvar=True,
              help="Require 'Authorization: Bearer TOKEN' on /api/admin/* (needed when "
                   "--host is not a loopback address).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDRESS",
              help="A proxy whose CF-Connecting-IP header names the client (repeatable).")
@click.option("--max-body-bytes", default=MAX_BODY_BYTES, show_default=True,
              type=click.IntRange(1024), help="Larger request bodies are answered 413.")
@click.option("--entity", "entity", multiple=True, metavar="ID=USERNAME",
              help="An entity the page offers (repeatable).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                                case_sensitive=False))
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object per line, uvicorn's lines too.")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Stop when this process (the supervisor) is gone.")
def board(host: str, port: int, db_path: Path, dialect: str, cache_race: bool,
          race_pause_ms: float, claim_race: bool, error_rate: float, latency_ms: float,
          stale_reads_s: float, seed: int | None, admin_token: str | None,
          trusted_proxies: tuple[str, ...], max_body_bytes: int,
          entity: tuple[str, ...], log_level: str, log_format: str,
          parent_pid: int | None) -> None:
    """Run the embedded comments server (the site's KV or DO dialect)."""
    if parent_pid:
        watch_parent(parent_pid)
    fmt: Literal["text", "json"] = "json" if log_format == "json" else "text"
    setup_logging(log_level, fmt)
    faults = FaultSettings(cache_race=cache_race, race_pause_ms=race_pause_ms,
                           claim_race=claim_race, error_rate=error_rate,
                           latency_ms=latency_ms, stale_reads_s=stale_reads_s)
    try:
        settings = BoardSettings(host=host, port=port, db_path=db_path,
                                 dialect="do" if dialect == "do" else "kv", faults=faults,
                                 admin_token=admin_token or None, seed=seed,
                                 entities=MappingProxyType(_entities(entity)),
                                 trusted_proxies=tuple(trusted_proxies),
                                 max_body_bytes=max_body_bytes)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this; without it, a pre-bound socket handed to uvloop
        # meets Nagle and delayed ACKs (about 40 ms per small request).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot bind {host}:{port}: {exc}") from exc
    sys.exit(run(settings, sock, log_level.lower(), announce=fmt == "text"))


def run(settings: BoardSettings, sock: socket.socket, log_level: str = "info",
        announce: bool = True) -> int:
    """Serve on the bound `sock` until SIGTERM or SIGINT; 0 on a clean stop."""
    received: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)  # only record; uvicorn's own handler does the stopping

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, record)
    # log_config=None: uvicorn's loggers keep no handlers of their own and reach the root
    # handler of setup_logging, so that they are JSON when the board's lines are.
    config = uvicorn.Config(create_app(settings), log_level=log_level, lifespan="on",
                            access_log=log_level == "debug", timeout_graceful_shutdown=5,
                            log_config=None)
    server = _Server(config, lambda: _announce(settings.host, sock, announce))
    asyncio.run(server.serve(sockets=[sock]))
    return 0 if server.started else 1


def _announce(host: str, sock: socket.socket, echo: bool) -> None:
    """The listening line on stdout (text format only: JSON output is log records only)."""
    port = sock.getsockname()[1]
    if echo:
        click.echo(f"board listening on http://{host}:{port}")
        sys.stdout.flush()
    log.info("board pid %d listening on %s:%d", os.getpid(), host, port)


class _Server(uvicorn.Server):
    """uvicorn's server, calling `on_ready` once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()
