"""A port the bot must serve is taken: one line naming the config key, exit 2, nothing started.

Each test takes the port first, as a stranger would: a plain bound socket, or a non-LLM HTTP
server on the local LLM host's port.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.botconfig import default_config_copy
from tests.support.procs import botcluster_cmd
from tests.support.strangers import bound, web_server

EXIT_CONFIG = 2


def start(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(botcluster_cmd("start", "--config", str(config)), capture_output=True,
                          text=True, timeout=60)


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def assert_one_line_nothing_started(done: subprocess.CompletedProcess[str], tmp: Path,
                                    expected: str) -> None:
    assert done.returncode == EXIT_CONFIG, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: " + expected), lines[0]
    assert "in use (127.0.0.1:" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    # Nothing started: no journal, no board database, no banner. The journal's lock may be
    # there: it is taken first, so that a second bot hears about the first one, not a port.
    made = sorted(p.name for p in (tmp / "var").iterdir()) if (tmp / "var").exists() else []
    assert made in ([], ["journal.jsonl.lock"]), made
    assert done.stdout == ""


@pytest.mark.parametrize("which", ["metrics", "board"])
def test_port_bound_by_a_stranger(tmp_path: Path, which: str) -> None:
    files = default_config_copy(tmp_path)
    url = files.metrics_url if which == "metrics" else files.board_url
    port = port_of(url)
    with bound(port):
        done = start(files.config)
    assert_one_line_nothing_started(done, tmp_path, f"[{which}] port {port} is in use")


def test_web_server_on_the_local_hosts_port(tmp_path: Path) -> None:
    files = default_config_copy(tmp_path)
    port = port_of(files.host_url)
    with web_server(port):
        done = start(files.config)
    assert_one_line_nothing_started(done, tmp_path,
                                    f'[[hosts]] "local-1" url port {port} is in use')


def test_two_keys_on_one_port(tmp_path: Path) -> None:
    files = default_config_copy(tmp_path)
    board = port_of(files.board_url)
    text = files.config.read_text().replace(f"port = {port_of(files.metrics_url)}",
                                            f"port = {board}")
    files.config.write_text(text)
    done = start(files.config)
    assert_one_line_nothing_started(done, tmp_path, f"[metrics] port {board} is in use")
    assert "also set by [board] port" in done.stderr


def test_embedded_board_never_adopts_a_stranger_on_its_port(tmp_path: Path) -> None:
    """Taken after the start-up check: the stranger answers /api/stats 200 before the child
    even runs, and must still not be taken for the board."""
    from botcluster.config import load
    from botcluster.core.children import BoardError, EmbeddedBoard

    files = default_config_copy(tmp_path)
    board = EmbeddedBoard(load(files.config))
    with web_server(port_of(files.board_url)):
        try:
            with pytest.raises(BoardError, match=r"port \d+ is answered by another process"
                               r"|embedded board exited"):
                board.start(timeout_s=20)
        finally:
            board.stop(2.0)
