"""Ctrl-C ends the bot within 10 s however stuck the world around it is."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.procs import LOOPBACK, botcluster_cmd
from tests.support.ptree import alive, descendants
from tests.support.simbot import cluster_toml, sim_cluster, write_bot
from tests.support.site import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def silent_api() -> Iterator[str]:
    """A comments API that accepts connections and never answers a byte."""
    server = socket.socket()
    server.bind((LOOPBACK, 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://{LOOPBACK}:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_ctrl_c_during_a_start_stuck_on_a_silent_api(tmp_path: Path, silent_api: str) -> None:
    with sim_cluster(tmp_path, cluster_toml()) as hosts:
        bot = write_bot(tmp_path, hosts, extra_bot=f'api_url = "{silent_api}"')
        log = (tmp_path / "bot.log").open("wb")
        proc = subprocess.Popen(botcluster_cmd("start", "--config", str(bot.config)),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(4)  # well into waiting for the API's first answer
        assert proc.poll() is None
        tree = descendants(proc.pid)
        asked = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)
        took = time.monotonic() - asked
        wait_for(lambda: not alive(tree), timeout=5, interval=0.2)
    print((tmp_path / "bot.log").read_text()[-3000:])
    assert took < 10, f"Ctrl-C took {took:.1f}s"
    assert code == 0
