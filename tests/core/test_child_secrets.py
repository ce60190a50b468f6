"""Secrets stay where they belong: redacted in the manager process's log, and kept out of the
board child's environment."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from botcluster.config import load
from botcluster.core.children import EmbeddedBoard
from botcluster.core.dispatcher import DispatcherSettings
from botcluster.core.manager import ManagerServer
from botcluster.logs import clear_secrets, register_secret
from tests.core.helpers import entity, host
from tests.support.procs import free_port

SECRET = "sk-live-0123456789abcdef"


def test_the_manager_process_redacts_the_secrets_registered_before_it_started(
        capfd: pytest.CaptureFixture[str]) -> None:
    register_secret(SECRET)
    server = ManagerServer(DispatcherSettings(), [host("h1")], {"e1": entity()})
    try:
        dispatcher = server.start()
        # A host that echoes the key in its error: the manager logs the error it was given.
        dispatcher.host_failed("h1", f"401 Unauthorized: bad key {SECRET}")
        time.sleep(0.2)
    finally:
        server.stop()
        clear_secrets()
    err = capfd.readouterr().err
    assert "host h1 down: 401 Unauthorized: bad key ***" in err
    assert SECRET not in err


def test_the_board_child_does_not_inherit_the_hosts_api_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    (tmp_path / "servers.toml").write_text(f"""
[board]
port = {port}
db_path = "board.sqlite3"
admin_token_env = "TEST_BOARD_TOKEN"

[[hosts]]
name = "h1"
url = "http://127.0.0.1:9"
kind = "openai"
slots = 1
api_key_env = "TEST_HOST_KEY_ONE"

[[hosts]]
name = "h2"
url = "http://127.0.0.1:9"
kind = "openai"
slots = 1
api_key_env = "TEST_HOST_KEY_TWO"

[[entities]]
id = "e1"
username = "E1"
baseModel = "m1"
""")
    monkeypatch.setenv("TEST_HOST_KEY_ONE", SECRET)
    monkeypatch.setenv("TEST_HOST_KEY_TWO", SECRET + "2")
    monkeypatch.setenv("TEST_BOARD_TOKEN", "board-token-1234")
    board = EmbeddedBoard(load(tmp_path / "servers.toml"))
    board.start()
    try:
        assert board.proc is not None
        env = dict(kv.split("=", 1) for kv in Path(f"/proc/{board.proc.pid}/environ")
                   .read_text().split("\0") if "=" in kv)
    finally:
        board.stop()
    assert "TEST_HOST_KEY_ONE" not in env and "TEST_HOST_KEY_TWO" not in env
    assert SECRET not in "".join(env.values())
    assert env["BOTCLUSTER_BOARD_TOKEN"] == "board-token-1234", "the board still gets its token"
    assert env.get("PATH") == os.environ.get("PATH"), "the rest of the environment is kept"
