"""The multiprocessing manager that serves the one `Dispatcher` to every process.

It listens on a Unix socket in a private directory (mode 0700) with a fresh random authkey per
start: its payloads are pickles, so whoever can reach it could run code as the bot.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

from botcluster.config.model import Entity, LogFormat
from botcluster.core.cluster import HostView
from botcluster.core.dispatcher import Dispatcher, DispatcherSettings
from botcluster.logs import registered_secrets

_dispatcher: Dispatcher | None = None
ORPHAN_CHECK_S = 0.5


def _init_dispatcher(settings: DispatcherSettings, hosts: list[HostView],
                     entities: dict[str, Entity], log_level: str = "INFO",
                     log_format: LogFormat = "text", secrets: tuple[str, ...] = ()) -> None:
    """Runs once in the manager process: build the one dispatcher it serves.

    The manager outlives signals sent to the whole process group (Ctrl-C, systemd's SIGTERM):
    the supervisor drains the workers through it and then shuts it down itself. If the
    supervisor dies without doing so, the manager notices and exits on its own.
    """
    global _dispatcher
    from botcluster.logs import register_secret, setup_logging

    setup_logging(log_level, log_format)  # the dispatcher's lines, in the bot's format
    for value in secrets:  # a host's error text may quote its key back
        register_secret(value)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    _dispatcher = Dispatcher(settings, hosts, entities)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


def _get_dispatcher() -> Dispatcher:
    if _dispatcher is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("dispatcher not initialised")
    return _dispatcher


class BotManager(BaseManager):
    pass


BotManager.register("dispatcher", callable=_get_dispatcher)


@dataclass(frozen=True)
class ManagerAddress:
    """How a process reaches the manager. Passed to workers through the spawn pipe only."""

    path: str
    authkey: bytes

    def connect(self) -> Any:
        """A proxy to the dispatcher (each thread gets its own connection)."""
        manager = BotManager(address=self.path, authkey=self.authkey)
        manager.connect()
        return manager.dispatcher()  # type: ignore[attr-defined]


class ManagerServer:
    """Start and stop the manager process."""

    def __init__(self, settings: DispatcherSettings, hosts: list[HostView],
                 entities: dict[str, Entity], log_level: str = "INFO",
                 log_format: LogFormat = "text") -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="botcluster-"))
        os.chmod(self._dir, 0o700)
        self.address = ManagerAddress(str(self._dir / "manager.sock"), secrets.token_bytes(32))
        self._manager = BotManager(address=self.address.path, authkey=self.address.authkey,
                                   ctx=multiprocessing.get_context("spawn"))
        self._init = (settings, hosts, entities, log_level, log_format)

    def start(self) -> Any:
        """Start the manager process; returns a dispatcher proxy for this process.

        The manager redacts every secret registered in this process by now (logs.py).
        """
        self._manager.start(initializer=_init_dispatcher,
                            initargs=(*self._init, registered_secrets()))
        return self._manager.dispatcher()  # type: ignore[attr-defined]

    @property
    def process(self) -> multiprocessing.process.BaseProcess | None:
        return getattr(self._manager, "_process", None)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._manager.shutdown()
        shutil.rmtree(self._dir, ignore_errors=True)
