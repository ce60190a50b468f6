"""Two bots on one site that cannot see each other's locks (as on two machines).

The lock refuses a second bot on the same machine (tests/test_lifecycle.py). Across machines,
the server-side claim is what keeps them safe: each message is answered once, by whichever bot
claimed it first, and the other counts a lost claim.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.procs import botcluster_cmd, free_port, stop, wait_http
from tests.support.simbot import bot_toml, cluster_toml, sim_cluster
from tests.support.site import post_human, replies_to, visible, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_two_bots_on_one_board_answer_each_message_once(tmp_path: Path) -> None:
    board_port = free_port()
    board_url = f"http://127.0.0.1:{board_port}"
    with sim_cluster(tmp_path, cluster_toml(slots=4, tokens_per_s=40.0)) as hosts:
        board = subprocess.Popen(botcluster_cmd("board", "--port", str(board_port), "--db",
                                                str(tmp_path / "board.db")),
                                 start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        bots = []
        try:
            wait_http(board_url + "/api/stats", proc=board)
            for name in ("alpha", "beta"):
                home = tmp_path / name
                (home / "run").mkdir(parents=True)
                metrics = free_port()
                cfg = home / "servers.toml"
                cfg.write_text(bot_toml(board_port, metrics, home, hosts,
                                        extra_bot=f'api_url = "{board_url}"\n'
                                                  f'worker_id = "{name}"'))
                log = (home / "bot.log").open("wb")
                env = {**os.environ, "XDG_RUNTIME_DIR": str(home / "run")}  # its own machine
                bots.append((subprocess.Popen(botcluster_cmd("start", "--config", str(cfg)),
                                              stdout=log, stderr=subprocess.STDOUT, env=env,
                                              start_new_session=True), metrics))
            for proc, metrics in bots:
                wait_http(f"http://127.0.0.1:{metrics}/readyz", timeout=60, proc=proc)
            ids = [f"{int(time.time() * 1000)}-two{i}" for i in range(16)]
            for mid in ids:
                post_human(board_url, mid, "hello both", "e1", context=[])
            wait_for(lambda: all(replies_to(visible(board_url), m) for m in ids), timeout=90)
            time.sleep(1.5)
            msgs = visible(board_url)
            assert {m: len(replies_to(msgs, m)) for m in ids} == dict.fromkeys(ids, 1)
            answered = []
            for _, metrics in bots:
                text = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
                answered.append(sum(float(x.rsplit(" ", 1)[1]) for x in text.splitlines()
                                    if x.startswith("botcluster_jobs_total")
                                    and 'outcome="replied"' in x))
            assert sum(answered) == len(ids)
        finally:
            for proc, _ in bots:
                assert stop(proc) == 0
            stop(board)
