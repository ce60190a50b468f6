"""A freshly started simulated cluster for one strategy: `botcluster sim` in its own process.

Its own process, so that the simulated hosts never compete for the interpreter lock with the
strategy under test; every strategy gets an identical cluster started the same way.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from botcluster.errors import BotclusterError
from botcluster.proc import stop_group

log = logging.getLogger(__name__)


class SimFailed(BotclusterError):
    """The simulated cluster did not start."""


class SimProcess:
    """Construct, `start()`, use `urls` and `stats()`, then `stop()` (also on errors)."""

    def __init__(self, cluster_file: Path, time_scale: float, workdir: Path) -> None:
        self.cluster_file = cluster_file
        self.time_scale = time_scale
        self.ports_file = workdir / "sim-ports.json"
        self.log_file = workdir / "sim.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.urls: dict[str, str] = {}

    def start(self, timeout_s: float = 30.0) -> dict[str, str]:
        """Start and wait until every host is listening; returns {host name: base URL}."""
        self.ports_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "botcluster", "sim", str(self.cluster_file),
               "--time-scale", repr(self.time_scale), "--ports-file", str(self.ports_file)]
        with self.log_file.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while not self.ports_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SimFailed(f"simulator did not start (see {self.log_file})")
            time.sleep(0.05)
        self.urls = dict(json.loads(self.ports_file.read_text()))
        return self.urls

    def reset_stats(self) -> None:
        for url in self.urls.values():
            httpx.post(url + "/sim/stats/reset", timeout=10.0).raise_for_status()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Every host's /sim/stats body (simulated seconds)."""
        out = {}
        for name, url in self.urls.items():
            r = httpx.get(url + "/sim/stats", timeout=10.0)
            r.raise_for_status()
            out[name] = r.json()
        return out

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc, 10.0)


def totals(stats: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Cluster-wide sums of the counters the report uses."""
    keys = ("loads", "evictions", "unloads", "ttl_unloads", "busy_slot_seconds", "predictions",
            "load_seconds", "wait_seconds", "tokens_generated")
    return {k: float(sum(s.get(k, 0) for s in stats.values())) for k in keys}
