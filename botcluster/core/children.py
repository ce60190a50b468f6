"""Child servers the supervisor starts: the embedded board (local hosts: hosts/local.py)."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from botcluster.config.model import Config
from botcluster.core.ports import pid_listens
from botcluster.errors import BotclusterError
from botcluster.proc import stop_group

log = logging.getLogger(__name__)


class BoardError(BotclusterError):
    """The embedded board did not start."""


class EmbeddedBoard:
    """`botcluster board` as a child process in its own process group."""

    def __init__(self, config: Config, log_path: Path | None = None) -> None:
        b = config.board
        self.url = f"http://{b.host}:{b.port}"
        self.port = b.port
        self.cmd = [sys.executable, "-m", "botcluster", "board", "--host", b.host,
                    "--port", str(b.port), "--db", str(b.db_path),
                    "--log-level", config.bot.log_level,
                    "--log-format", config.bot.log_format, "--parent-pid", str(os.getpid())]
        for e in config.entities.values():
            if e.enabled:
                self.cmd += ["--entity", f"{e.id}={e.username}"]
        self.token_env = b.admin_token_env
        self.host_key_envs = {h.api_key_env for h in config.hosts if h.api_key_env}
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the board without the hosts' API keys in its environment (it never calls a
        host; a crash report or a debug page of it must have no key to show)."""
        env = {k: v for k, v in os.environ.items() if k not in self.host_key_envs}
        if self.token_env and self.token_env in os.environ:
            env["BOTCLUSTER_BOARD_TOKEN"] = os.environ[self.token_env]
        self.proc = subprocess.Popen(self.cmd, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BoardError(f"embedded board exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/api/stats", timeout=1.0).status_code == 200:
                    self._check_identity()
                    return
            time.sleep(0.1)
        raise BoardError(f"embedded board not ready at {self.url} after {timeout_s}s")

    def _check_identity(self) -> None:
        """The answer must come from our child, never from a stranger on the same port."""
        assert self.proc is not None
        if pid_listens(self.proc.pid, self.port) is False:
            raise BoardError(f"[board] port {self.port} is answered by another process, "
                             f"not by the embedded board (pid {self.proc.pid})")

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.proc is not None:
            stop_group(self.proc, timeout_s)
