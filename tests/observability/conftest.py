"""Simulated hosts for the observability tests (see botrun.py for the bot itself)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.simbot import cluster_toml, sim_cluster


@pytest.fixture
def sim2(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two simulated LM Studio hosts with quick replies."""
    with sim_cluster(tmp_path, cluster_toml(2)) as hosts:
        yield hosts


@pytest.fixture
def slow_sim(tmp_path: Path) -> Iterator[dict[str, str]]:
    """One host whose replies (10 to 20 tokens) take 3 to 7 s: jobs stay in flight long
    enough to be killed mid-request even when the metrics seen lag by a second."""
    with sim_cluster(tmp_path, cluster_toml(tokens_per_s=3.0)) as hosts:
        yield hosts
