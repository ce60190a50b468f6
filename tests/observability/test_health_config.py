"""`[metrics] poll_stale_s`: the poll age at which /healthz fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from botcluster.errors import ConfigError
from tests.config.builders import BASE, load_text


def test_unset_keeps_the_default_threshold(tmp_path: Path) -> None:
    assert load_text(tmp_path, BASE).metrics.poll_stale_s is None


def test_a_positive_number_is_taken(tmp_path: Path) -> None:
    config = load_text(tmp_path, BASE + "\n[metrics]\npoll_stale_s = 2.5\n")
    assert config.metrics.poll_stale_s == 2.5


@pytest.mark.parametrize("bad", ["0", "-1", '"soon"'])
def test_anything_else_is_an_error_naming_the_key(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"metrics\.poll_stale_s"):
        load_text(tmp_path, BASE + f"\n[metrics]\npoll_stale_s = {bad}\n")
