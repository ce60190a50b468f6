"""The real local llama.cpp host under a running bot: SIGKILLed, it is restarted with backoff
and the message posted meanwhile is answered, without a bot restart."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.botconfig import ROOT, default_config_copy
from tests.support.procs import botcluster_cmd, running
from tests.support.ptree import alive, descendants
from tests.support.site import post_human, replies_to, visible, wait_for

pytestmark = [pytest.mark.llm, pytest.mark.slow, pytest.mark.timeout(180)]


def local_host_pid(bot_pid: int) -> int | None:
    for pid in alive(descendants(bot_pid)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"local-host" in cmdline:
            return pid
    return None


def test_killed_local_host_is_restarted_and_the_message_answered(tmp_path: Path) -> None:
    # Short replies: the test is about the restart, not about generating.
    text = (ROOT / "servers.toml").read_text().replace("maxTokens = 80", "maxTokens = 8")
    files = default_config_copy(tmp_path, text=text)
    log = tmp_path / "bot.log"
    with running(botcluster_cmd("start", "--config", str(files.config)), log=log,
                 ready_url=files.metrics_url + "/readyz", timeout=120) as bot:
        first = local_host_pid(bot.pid)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        post_human(files.board_url, "m-after-kill", "Say hello.", "emotional-intelligence",
                   context=[])
        second = wait_for(lambda: (p := local_host_pid(bot.pid)) != first and p, timeout=30,
                          interval=0.1)
        assert time.monotonic() - killed_at >= 0.9  # the restart waited out its backoff
        wait_for(lambda: replies_to(visible(files.board_url), "m-after-kill"), timeout=90,
                 interval=0.3)
        assert httpx.get(files.metrics_url + "/readyz", timeout=5).status_code == 200
        assert local_host_pid(bot.pid) == second
    said = log.read_text()
    assert "local-1: local host process exited with code -9; restarting in 1s" in said
    assert f"local-1: local host restarted (pid {second})" in said
