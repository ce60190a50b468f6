"""Stopping child processes that run in their own process group (start_new_session=True)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time


def stop_group(proc: subprocess.Popen[bytes], timeout_s: float, kill_wait_s: float = 5.0) -> bool:
    """SIGTERM the process's group, wait up to `timeout_s`, then SIGKILL the group.

    The group, not the process, so that nothing it started outlives it. Returns True when
    SIGKILL was needed. A process already gone is fine.
    """
    if proc.poll() is not None:
        return False
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout_s)
        return False
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(kill_wait_s)
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def watch_parent(parent_pid: int, every_s: float = 0.5) -> None:
    """SIGTERM this process (its own handlers then stop it cleanly) once `parent_pid` is no
    longer its parent: a supervisor killed with SIGKILL must not leave its board or local hosts
    holding their ports. Runs in a daemon thread."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
