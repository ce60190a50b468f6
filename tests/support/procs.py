"""Start real server processes for tests, on loopback only, and always stop them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from botcluster.proc import stop_group

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0, ok: tuple[int, ...] = (200,),
              proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers one of `ok`; fail early if `proc` exits."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} was ready")
        try:
            r = httpx.get(url, timeout=2.0)
            if r.status_code in ok:
                return
            last = r.status_code
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s (last: {last!r})")


def botcluster_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "botcluster", *args]


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    """SIGTERM, wait, then SIGKILL the whole process group. Returns the exit code."""
    stop_group(proc, timeout)
    return int(proc.returncode)


@contextlib.contextmanager
def running(cmd: Sequence[str], *, ready_url: str | None = None, timeout: float = 30.0,
            log: Path | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """Run `cmd` in its own process group until the block ends; wait for `ready_url` first.

    Output goes to `log` (a file) so that a failing test can show it.
    """
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=full_env,
                            cwd=cwd, start_new_session=True)
    try:
        if ready_url:
            try:
                wait_http(ready_url, timeout=timeout, proc=proc)
            except Exception:
                if log:
                    sys.stderr.write(log.read_text(errors="replace")[-4000:])
                raise
        yield proc
    finally:
        stop(proc)
        if log and out is not subprocess.DEVNULL:
            out.close()  # type: ignore[union-attr]
