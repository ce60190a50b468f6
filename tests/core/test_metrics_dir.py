"""The metrics directory: private, emptied only of the bot's own files, only under the lock,
and gone after a clean stop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from botcluster.config import load
from botcluster.core.commands import start
from botcluster.core.locks import BotLock
from botcluster.core.metrics_http import ENV, prepare_dir
from botcluster.errors import ConfigError

CONFIG = """
[bot]
api_url = "http://127.0.0.1:9"
journal_path = "journal.jsonl"

[metrics]
multiproc_dir = "{dir}"

[[hosts]]
name = "h1"
url = "http://127.0.0.1:9"
kind = "lmstudio"
slots = 1

[[entities]]
id = "e1"
username = "E1"
baseModel = "m1"
"""


@pytest.fixture(autouse=True)
def _keep_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """prepare_dir exports the directory; give the environment back after each test."""
    monkeypatch.setenv(ENV, os.environ.get(ENV, ""))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()


def _config_dir(tmp_path: Path, multiproc_dir: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "servers.toml").write_text(CONFIG.format(dir=multiproc_dir))
    (home / "journal.jsonl").write_text('{"e":"done","m":"m1","o":"replied"}\n')
    (home / "board.sqlite3").write_bytes(b"SQLite format 3\0")
    return home


def test_the_config_directory_as_multiproc_dir_is_refused_and_nothing_deleted(
        tmp_path: Path) -> None:
    home = _config_dir(tmp_path, ".")
    before = sorted(p.name for p in home.iterdir())
    with pytest.raises(ConfigError, match="multiproc_dir") as err:
        prepare_dir(home, home / "servers.toml")
    assert "servers.toml" in str(err.value) and str(home) in str(err.value)
    assert sorted(p.name for p in home.iterdir()) == before
    assert (home / "journal.jsonl").read_text().startswith('{"e":"done"')


def test_start_with_multiproc_dir_dot_exits_with_a_config_error(tmp_path: Path) -> None:
    home = _config_dir(tmp_path, ".")
    before = {p.name: p.read_bytes() for p in home.iterdir()}
    result = CliRunner().invoke(start, ["--config", str(home / "servers.toml")])
    assert result.exit_code == 2, result.output
    assert "metrics.multiproc_dir" in result.output
    after = {p.name: p.read_bytes() for p in home.iterdir() if not p.name.endswith(".lock")}
    assert after == before


def test_a_second_start_leaves_the_running_bots_metrics_alone(tmp_path: Path) -> None:
    home = _config_dir(tmp_path, "prom")
    config = load(home / "servers.toml")
    running = BotLock.for_config(config)  # the first bot, as `start` takes it
    running.acquire()
    try:
        prepare_dir(config.metrics.multiproc_dir, config.source)
        its_metrics = home / "prom" / "counter_4242.db"
        its_metrics.write_bytes(b"\0" * 64)
        result = CliRunner().invoke(start, ["--config", str(home / "servers.toml")])
        assert result.exit_code == 1 and "another botcluster" in result.output
        assert its_metrics.read_bytes() == b"\0" * 64
    finally:
        running.release()


def test_the_metrics_lock_is_per_directory_whatever_the_site(tmp_path: Path) -> None:
    prom = tmp_path / "prom"
    first = BotLock(tmp_path / "a.jsonl", "http://one.example", metrics_dir=prom)
    first.acquire()
    try:
        with pytest.raises(Exception, match="another botcluster"):
            BotLock(tmp_path / "b.jsonl", "http://two.example", metrics_dir=prom).acquire()
    finally:
        first.release()


def test_a_configured_directory_is_emptied_of_old_metric_files_and_made_private(
        tmp_path: Path) -> None:
    prom = tmp_path / "prom"
    prom.mkdir(mode=0o755)
    (prom / "counter_12.db").write_bytes(b"old")
    (prom / "gauge_livesum_12.db").write_bytes(b"old")
    d = prepare_dir(prom)
    assert d.path == prom and list(prom.iterdir()) == []
    assert prom.stat().st_mode & 0o777 == 0o700
    assert os.environ[ENV] == str(prom)
    d.remove()
    assert prom.is_dir(), "a configured directory is the operator's: it stays"


def test_a_symlinked_configured_directory_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "counter_1.db").write_bytes(b"x")
    (tmp_path / "prom").symlink_to(target)
    with pytest.raises(ConfigError, match="symlink"):
        prepare_dir(tmp_path / "prom")
    assert (target / "counter_1.db").exists()


def test_a_temporary_directory_is_private_and_removed_after_the_run(tmp_path: Path) -> None:
    d = prepare_dir(None)
    assert d.temporary and d.path.stat().st_mode & 0o777 == 0o700
    (d.path / "counter_1.db").write_bytes(b"x")
    d.remove()
    assert not d.path.exists()
