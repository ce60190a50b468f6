"""Fixtures of the dashboard and alert-rule tests."""

from __future__ import annotations

import shutil

import pytest

from tests.dashboards.queries import metrics_module_exposition, names_from_exposition


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary; the test is skipped when it is not installed."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`)")
    return path


@pytest.fixture(scope="session")
def known_metric_names() -> set[str]:
    """Every series name botcluster.metrics can expose, with the type suffixes."""
    return names_from_exposition(metrics_module_exposition())
