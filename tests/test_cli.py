"""The `botcluster` command as an operator uses it: help, version, config errors, check."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from botcluster import __version__
from tests.support.botconfig import ROOT, default_config_copy
from tests.support.procs import botcluster_cmd, running


def run(*args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(botcluster_cmd(*args), capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def test_version_and_help_of_every_command() -> None:
    assert run("--version").stdout.strip().endswith(__version__)
    top = run("--help")
    assert top.returncode == 0
    for name in ("start", "check", "status", "board", "sim", "local-host"):
        assert name in top.stdout
        sub = run(name, "--help")
        assert sub.returncode == 0, sub.stderr
        assert "Usage: botcluster " + name in sub.stdout


def test_console_script_works_too() -> None:
    import sys

    script = Path(sys.executable).parent / "botcluster"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.parametrize(("edit", "key"), [
    (lambda s: s.replace('kind = "llamacpp"', 'kind = "llamacpp"\ncolour = "red"'), "colour"),
    (lambda s: s.replace("workers = 2", 'workers = "two"'), "bot.workers"),
    (lambda s: s.replace('url = "http://127.0.0.1', 'url = "ftp://127.0.0.1'), "hosts[0].url"),
    (lambda s: s.replace('baseModel = "smollm2"', 'baseModel = "nobody-serves-this"', 1),
     "entities[0]"),
    (lambda s: s.replace("[bot]", "[bot\n"), "invalid TOML"),
])
def test_config_errors_exit_2_and_name_the_key(tmp_path: Path, edit: object, key: str) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(edit((ROOT / "servers.toml").read_text()))  # type: ignore[operator]
    for command in ("start", "check"):
        result = run(command, "--config", str(path))
        assert result.returncode == 2, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert str(path) in line and key in line, line


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = run("start", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_bad_override_names_its_source(tmp_path: Path) -> None:
    files = default_config_copy(tmp_path)
    by_env = run("check", "--config", str(files.config),
                 env={"BOTCLUSTER_API_URL": "not a url"})
    assert by_env.returncode == 2 and "BOTCLUSTER_API_URL" in by_env.stderr
    by_option = run("check", "--config", str(files.config), "--api-url", "ftp://x")
    assert by_option.returncode == 2 and "--api-url" in by_option.stderr


def test_check_reports_board_and_hosts_and_never_prints_secrets(tmp_path: Path) -> None:
    text = (ROOT / "servers.toml").read_text().replace(
        'slots = 2\n', 'slots = 2\napi_key_env = "TEST_HOST_TOKEN"\n', 1)
    files = default_config_copy(tmp_path, text=text)
    secret = "s3cret-token-value"
    db = tmp_path / "b.sqlite3"
    port = files.board_url.rsplit(":", 1)[1]
    with running(botcluster_cmd("board", "--port", port, "--db", str(db)),
                 ready_url=files.board_url + "/api/stats"):
        result = run("check", "--config", str(files.config), env={"TEST_HOST_TOKEN": secret})
    out = result.stdout
    assert "comments API: " + files.board_url + ": ok (kv dialect" in out
    assert "local-1: local host" in out and "TEST_HOST_TOKEN: set" in out
    assert secret not in out + result.stderr
    assert result.returncode == 0


def test_check_fails_when_the_api_is_unreachable(tmp_path: Path) -> None:
    files = default_config_copy(tmp_path)
    result = run("check", "--config", str(files.config), "--api-url", "http://127.0.0.1:9")
    assert result.returncode == 1
    assert "comments API: http://127.0.0.1:9: FAILED" in result.stdout
