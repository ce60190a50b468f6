"""The bot's own failures: a second instance, a hung worker, a killed worker, a dead manager.

Each test runs the real bot, board and simulated LM Studio hosts as processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.procs import botcluster_cmd, stop, wait_http
from tests.support.ptree import alive, descendants
from tests.support.simbot import SimBot, cluster_toml, sim_cluster, write_bot
from tests.support.site import post_human, replies_to, visible, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _start(bot: SimBot, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(botcluster_cmd("start", "--config", str(bot.config)),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_http(bot.metrics_url + "/readyz", timeout=60, proc=proc)
    return proc


def _workers(proc: subprocess.Popen[bytes]) -> list[int]:
    pids = []
    for pid in descendants(proc.pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        # Spawned workers and the manager both run spawn_main; the manager is the first child.
        if b"spawn_main" in cmd:
            pids.append(pid)
    return sorted(pids)[1:]


def _metric(bot: SimBot, name: str) -> float:
    text = httpx.get(bot.metrics_url + "/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def _exactly_one_reply_each(bot: SimBot, ids: list[str], timeout: float = 60) -> None:
    wait_for(lambda: all(replies_to(visible(bot.board_url), m) for m in ids), timeout=timeout)
    time.sleep(1.0)  # a few more polls: a second answer would show now
    msgs = visible(bot.board_url)
    assert {m: len(replies_to(msgs, m)) for m in ids} == dict.fromkeys(ids, 1)


@pytest.fixture
def slow_sim(tmp_path: Path) -> Iterator[dict[str, str]]:
    """One host whose replies take about 4 s: jobs are in flight long enough to break."""
    with sim_cluster(tmp_path, cluster_toml(tokens_per_s=5.0)) as hosts:
        yield hosts


def test_a_second_instance_on_the_same_site_is_refused(tmp_path: Path,
                                                       slow_sim: dict[str, str]) -> None:
    bot = write_bot(tmp_path, slow_sim)
    first = _start(bot, tmp_path / "a.log")
    try:
        second = subprocess.run(
            botcluster_cmd("start", "--config", str(bot.config), "--api-url", bot.board_url,
                           "--metrics-port", "0"),
            capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "another botcluster" in second.stderr and bot.board_url in second.stderr
        assert first.poll() is None, "the first bot keeps running"
    finally:
        assert stop(first) == 0


def test_a_hung_worker_loses_its_lease_and_is_replaced(tmp_path: Path,
                                                       slow_sim: dict[str, str]) -> None:
    bot = write_bot(tmp_path, slow_sim, workers=2, jobs=1, lease_s=6)
    proc = _start(bot, tmp_path / "bot.log")
    try:
        workers = _workers(proc)
        assert len(workers) == 2
        mid = f"{int(time.time() * 1000)}-hang"
        post_human(bot.board_url, mid, "hello", "e1", context=[])
        wait_for(lambda: _metric(bot, 'botcluster_queue_depth{state="claimed"}') == 1, 20,
                 interval=0.2)
        for pid in workers:  # the idle one stops too: it must not matter
            os.kill(pid, signal.SIGSTOP)
        _exactly_one_reply_each(bot, [mid], timeout=90)
        assert _metric(bot, "botcluster_claims_reclaimed_total") >= 1
        wait_for(lambda: not alive(set(workers)), timeout=30)
        assert len(_workers(proc)) == 2, "replaced in their slots"
    finally:
        for pid in alive(set(workers)):
            os.kill(pid, signal.SIGCONT)
        assert stop(proc) == 0


def test_a_worker_killed_mid_request_costs_nothing(tmp_path: Path,
                                                   slow_sim: dict[str, str]) -> None:
    bot = write_bot(tmp_path, slow_sim, workers=2, jobs=2)
    proc = _start(bot, tmp_path / "bot.log")
    try:
        ids = [f"{int(time.time() * 1000)}-k{i}" for i in range(4)]
        for mid in ids:
            post_human(bot.board_url, mid, "hello there", "e1", context=[])
        wait_for(lambda: _metric(bot, 'botcluster_queue_depth{state="claimed"}') >= 2, 20,
                 interval=0.1)
        for pid in _workers(proc):  # one of them holds the running jobs: kill them all
            os.kill(pid, signal.SIGKILL)
        _exactly_one_reply_each(bot, ids, timeout=90)
        assert _metric(bot, "botcluster_claims_reclaimed_total") >= 1
        assert _metric(bot, "botcluster_worker_restarts_total") >= 1
        assert _metric(bot, "botcluster_workers_alive") == 2
        by_id = {m["id"]: m for m in visible(bot.board_url)}
        assert all(by_id[m]["botParams"]["status"] == "complete" for m in ids)
    finally:
        assert stop(proc) == 0


def test_a_dead_manager_halts_the_bot_and_leaves_nothing(tmp_path: Path,
                                                         slow_sim: dict[str, str]) -> None:
    bot = write_bot(tmp_path, slow_sim)
    proc = _start(bot, tmp_path / "bot.log")
    tree = descendants(proc.pid)
    manager = sorted(p for p in tree if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes())[0]
    os.kill(manager, signal.SIGKILL)
    code = proc.wait(timeout=30)
    assert code == 1
    log = (tmp_path / "bot.log").read_text()
    assert "halting: " in log and "manager process" in log
    wait_for(lambda: not alive(tree), timeout=10)
