"""The generator is deterministic under a seed and writes files the bench and the sim accept."""

from __future__ import annotations

from pathlib import Path

import pytest

from botcluster.bench.bound import lower_bound
from botcluster.bench.generate import DEFAULT_SIZES, cluster_toml, generate
from botcluster.bench.workload import entities, load_workload, save_workload
from botcluster.errors import ConfigError
from botcluster.sim.spec import load_cluster


@pytest.mark.parametrize("kind", sorted(DEFAULT_SIZES))
def test_same_seed_same_files(kind: str) -> None:
    a, b = generate(kind, 50, seed=3), generate(kind, 50, seed=3)
    assert [r.to_json() for r in a.requests] == [r.to_json() for r in b.requests]
    assert cluster_toml(a.cluster) == cluster_toml(b.cluster)
    other = generate(kind, 50, seed=4)
    assert [r.to_json() for r in other.requests] != [r.to_json() for r in a.requests]


@pytest.mark.parametrize("kind", sorted(DEFAULT_SIZES))
def test_files_round_trip_and_load(kind: str, tmp_path: Path) -> None:
    s = generate(kind, 40, seed=1)
    save_workload(s.requests, tmp_path / "w.jsonl")
    (tmp_path / "c.toml").write_text(cluster_toml(s.cluster, "test"))
    requests = load_workload(tmp_path / "w.jsonl")
    cluster = load_cluster(tmp_path / "c.toml")
    assert [r.to_json() for r in requests] == [r.to_json() for r in s.requests]
    assert len(requests) == 40
    assert lower_bound(requests, cluster).lower_bound_s > 0
    personas = entities(requests)
    assert all(any(h.model(p.model) for h in cluster.hosts) for p in personas.values())


def test_shipped_scenarios_have_the_advertised_shape() -> None:
    assert len(generate("burst").requests) == 29
    swap = generate("swap")
    assert len(swap.cluster["hosts"]) == 2 and len(swap.cluster["hosts"][0]["models"]) == 40
    large = generate("large")
    assert len(large.cluster["hosts"]) == 16 and len(large.cluster["hosts"][0]["models"]) == 100


def test_bad_workload_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    path.write_text('{"t": 0, "entity": "e", "model": "m", "prompt_tokens": 1, '
                    '"max_tokens": 0}\n')
    with pytest.raises(ConfigError, match=r"line 1\.max_tokens"):
        load_workload(path)
    path.write_text('{"t": 0, "entity": "e", "model": "m", "prompt_tokens": 1, '
                    '"max_tokens": 5}\n{"t": 1, "entity": "e", "model": "other", '
                    '"prompt_tokens": 1, "max_tokens": 5}\n')
    with pytest.raises(ConfigError, match="changes model"):
        load_workload(path)
