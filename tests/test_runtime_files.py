"""What a real bot leaves on the machine: private runtime files while it runs, nothing after a
clean stop (no metrics directory, no manager socket), and a refused second start that leaves
the first one's metrics alone."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.procs import botcluster_cmd, running, stop
from tests.support.simbot import cluster_toml, sim_cluster, write_bot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_clean_stop_leaves_only_the_private_lock_directory(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), "XDG_RUNTIME_DIR": ""}
    with sim_cluster(tmp_path, cluster_toml()) as hosts:
        bot = write_bot(tmp_path, hosts)
        cmd = botcluster_cmd("start", "--config", str(bot.config))
        with running(cmd, ready_url=bot.metrics_url + "/readyz", timeout=60,
                     log=tmp_path / "bot.log", env=env) as proc:
            during = sorted(p.name for p in tmp.iterdir())
            assert any(n.startswith("botcluster-metrics-") for n in during), during
            for p in tmp.iterdir():
                assert stat.S_IMODE(p.lstat().st_mode) == 0o700, p
            second = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                                    env={**os.environ, **env})
            assert second.returncode == 1 and "another botcluster" in second.stderr
            metrics = httpx.get(bot.metrics_url + "/metrics", timeout=5).text
            assert "botcluster_polls_total" in metrics, "the first bot's metrics are intact"
            assert stop(proc) == 0
    assert sorted(p.name for p in tmp.iterdir()) == [f"botcluster-{os.getuid()}"]
    locks = tmp / f"botcluster-{os.getuid()}"
    assert all(p.suffix == ".lock" for p in locks.iterdir())
