"""Stopping child processes that run in their own process group (start_new_session=True)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


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
