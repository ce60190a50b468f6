"""A small real `botcluster bench` run: the real bot and round-robin on a tiny burst."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from botcluster.bench.generate import cluster_toml, generate
from botcluster.bench.workload import save_workload


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_two_strategies_reply_once_to_everything(tmp_path: Path) -> None:
    scenario = generate("burst", 6, seed=5)
    save_workload(scenario.requests, tmp_path / "w.jsonl")
    (tmp_path / "c.toml").write_text(cluster_toml(scenario.cluster))
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "botcluster", "bench", "--cluster", str(tmp_path / "c.toml"),
         "--workload", str(tmp_path / "w.jsonl"), "--strategies", "botcluster,round-robin",
         "--time-scale", "0.05", "--max-real-s", "60", "--json", str(out),
         "--workdir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=140)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["lower_bound_s"] > 0
    for name in ("botcluster", "round-robin"):
        r = data["strategies"][name]
        assert (r["replied"], r["lost"], r["duplicates"]) == (6, 0, 0), (name, r)
        assert r["makespan_s"] >= data["bound"]["strict_lower_bound_s"]
        assert r["p95_latency_s"] >= r["p50_latency_s"] > 0
    assert "| botcluster |" in proc.stdout
