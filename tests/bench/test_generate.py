"""The generator is deterministic under a seed and writes files the bench and the sim accept."""

from __future__ import annotations

from collections import Counter
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


def test_many_models_regime_has_the_issue_shape() -> None:
    s = generate("many")
    hosts = s.cluster["hosts"]
    assert len(hosts) == 4 and all(h["memory_gb"] == 128.0 for h in hosts)
    assert all((h["slots_per_model"], h["slots_per_host"]) == (2, 4) for h in hosts)
    sizes = [m["size_gb"] for m in hosts[0]["models"]]
    assert len(sizes) == 90 and min(sizes) >= 15.0 and max(sizes) <= 18.0
    loaded = {m["key"] for h in hosts for m in h["models"] if m.get("loaded")}
    burst = [r for r in s.requests if 200.0 <= r.t <= 201.0]
    assert len(burst) >= 29 and not any(r.model in loaded for r in burst)
    first = Counter(r.model for r in s.requests if r.t < 150.0).most_common(1)[0][0]
    second = Counter(r.model for r in s.requests if r.t >= 150.0).most_common(1)[0][0]
    assert first != second  # the popularity head shifts halfway


def test_hotspot_flash_and_unequal_regimes_have_their_shape() -> None:
    hot = generate("hotspot").requests
    top = Counter(r.entity for r in hot).most_common(1)[0][1]
    assert 0.4 <= top / len(hot) <= 0.6
    crowd = [r for r in generate("flash").requests if 300.0 <= r.t <= 320.0]
    viral = Counter(r.entity for r in crowd).most_common(3)
    assert sum(n for _, n in viral) >= 80  # the crowd: three personas within 20 s
    speeds = {h["tokens_per_s"] for h in generate("unequal").cluster["hosts"]}
    assert len(speeds) == 4


def test_every_regime_states_how_a_load_interferes_and_the_matrix_covers_both() -> None:
    blocks, slows = False, False
    for kind in DEFAULT_SIZES:
        for h in generate(kind, 30).cluster["hosts"]:
            assert "load_blocks_generation" in h and "load_slowdown" in h, kind
            blocks |= h["load_blocks_generation"]
            slows |= h["load_slowdown"] > 0
    assert blocks and slows


def test_shipped_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    root = Path(__file__).parents[2] / "benchmarks"
    for kind in DEFAULT_SIZES:
        s = generate(kind)
        save_workload(s.requests, tmp_path / "w.jsonl")
        assert (tmp_path / "w.jsonl").read_text() == (root / f"workloads/{kind}.jsonl").read_text()
        shipped = load_cluster(root / f"clusters/{kind}.toml")
        (tmp_path / "c.toml").write_text(cluster_toml(s.cluster))
        assert load_cluster(tmp_path / "c.toml") == shipped, kind
