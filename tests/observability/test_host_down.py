"""A host killed mid-request: down at once (not a timeout), /readyz says why, and the message
is answered when the host comes back, without a bot restart."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.observability.botrun import post, scrape, started, value
from tests.support.procs import botcluster_cmd, free_port, running
from tests.support.simbot import cluster_toml, write_bot
from tests.support.site import replies_to, visible, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def status(metrics_url: str) -> dict[str, object]:
    data: dict[str, object] = httpx.get(metrics_url + "/status", timeout=5).json()
    return data


def inflight(metrics_url: str) -> int:
    hosts = status(metrics_url)["hosts"]
    assert isinstance(hosts, dict)
    return int(hosts["sim-0"]["inflight"])


def test_killed_host_is_down_then_serves_the_waiting_message(tmp_path: Path) -> None:
    port = free_port()
    # Slow replies (20 tokens at 4/s): the job is still generating when the host is killed.
    (tmp_path / "cluster.toml").write_text(
        cluster_toml(tokens_per_s=4.0).replace("port = 0", f"port = {port}"))
    sim = botcluster_cmd("sim", str(tmp_path / "cluster.toml"))
    url = f"http://127.0.0.1:{port}"
    bot = write_bot(tmp_path, {"sim-0": url}, max_tokens=20)
    log = tmp_path / "bot.log"
    with running(sim, ready_url=url + "/v1/models", log=tmp_path / "sim1.log") as first, \
            started(bot, log):
        post(bot, ["m-1"])
        wait_for(lambda: inflight(bot.metrics_url) == 1, timeout=20, interval=0.1)
        assert "up again" not in log.read_text()  # at start the host was never down
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(5)

        def not_ready() -> dict[str, object] | None:
            r = httpx.get(bot.metrics_url + "/readyz", timeout=5)
            return r.json() if r.status_code == 503 else None

        body = wait_for(not_ready, timeout=20, interval=0.2)
        assert "no host can serve any entity's model (m-a@f16): sim-0 down" in body["reason"]
        assert httpx.get(bot.metrics_url + "/healthz", timeout=5).status_code == 200
        # The metrics are published every second: they may lag /readyz a little.
        def host_down_scrape() -> str | None:
            text = scrape(bot)
            return text if value(text, "botcluster_host_up", host="sim-0") == 0 else None

        text = wait_for(host_down_scrape, timeout=10, interval=0.2)
        assert value(text, "botcluster_llm_requests_total", host="sim-0", outcome="error") >= 1
        assert value(text, "botcluster_llm_requests_total", host="sim-0", outcome="timeout") == 0
        assert not replies_to(visible(bot.board_url), "m-1")

        with running(sim, ready_url=url + "/v1/models", log=tmp_path / "sim2.log"):
            wait_for(lambda: replies_to(visible(bot.board_url), "m-1"), timeout=60,
                     interval=0.3)
            wait_for(lambda: httpx.get(bot.metrics_url + "/readyz", timeout=5)
                     .status_code == 200, timeout=20, interval=0.2)
    said = log.read_text()
    assert said.count("host sim-0 up again") == 1, said
    assert said.index("host sim-0 down") < said.index("host sim-0 up again")
