"""End to end: the embedded board, the real local llama.cpp host and `botcluster start`.

A 135M model is often wrong, so these tests check protocol and format, never the content of a
reply. It also sometimes answers by imitating "Human:", which cleaning turns into an empty reply
and a retry; the config allows a few more attempts than the default so that the test is about
the bot, not the model's luck.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.botconfig import default_config_copy
from tests.support.procs import botcluster_cmd, wait_http
from tests.support.ptree import alive, descendants
from tests.support.site import post_human, replies_to, visible, wait_for

pytestmark = [pytest.mark.llm, pytest.mark.slow, pytest.mark.timeout(240)]

ENTITIES = {"emotional-intelligence": ("EmotionalGuide", "186207080"),
            "the-eternal": ("TheEternal", "220170040")}


def test_three_messages_two_entities_each_get_exactly_one_reply(tmp_path: Path) -> None:
    files = default_config_copy(tmp_path, bot={"max_attempts": "6"})
    log = tmp_path / "bot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(botcluster_cmd("start", "--config", str(files.config)),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(files.metrics_url + "/readyz", timeout=120, proc=proc)
        tree = descendants(proc.pid)
        assert len(tree) >= 4, "board, local host, manager and workers run as children"
        sent = {f"{int(time.time() * 1000)}-e2e{i}": entity
                for i, entity in enumerate(["emotional-intelligence", "the-eternal",
                                            "emotional-intelligence"])}
        for mid, entity in sent.items():
            post_human(files.board_url, mid, f"Hello {mid[-4:]}, how is your day?", entity)

        def all_answered() -> list[dict[str, object]] | None:
            msgs = visible(files.board_url)
            done = all(replies_to(msgs, mid) for mid in sent)
            return msgs if done else None

        msgs = wait_for(all_answered, timeout=150)
        time.sleep(2 * 1.0)  # two more polls: a double answer would show up now
        msgs = visible(files.board_url)
        by_id = {m["id"]: m for m in msgs}
        for mid, entity in sent.items():
            replies = replies_to(msgs, mid)
            assert len(replies) == 1, f"{mid}: {len(replies)} replies"
            username, color = ENTITIES[entity]
            assert replies[0]["username"] == username
            assert replies[0]["color"] == color
            assert replies[0]["domain"] == "saywhatwant.app"
            assert replies[0]["text"].strip()
            assert by_id[mid]["botParams"]["status"] == "complete"
        metrics = httpx.get(files.metrics_url + "/metrics", timeout=5).text
        assert 'botcluster_jobs_total{entity="the-eternal",outcome="replied"} 1.0' in metrics
    finally:
        tree = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            print(log.read_text(errors="replace")[-6000:])
    assert code == 0
    wait_for(lambda: not alive(tree), timeout=5, interval=0.2)


def test_a_supervisor_killed_with_sigkill_leaves_nothing_holding_the_ports(
        tmp_path: Path) -> None:
    """Board and local hosts run in their own sessions (a terminal's Ctrl-C must not reach
    them before the drain); they watch the supervisor and stop when it is gone, so that the
    next start finds its ports free."""
    files = default_config_copy(tmp_path)
    with (tmp_path / "bot.log").open("wb") as out:
        proc = subprocess.Popen(botcluster_cmd("start", "--config", str(files.config)),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    wait_http(files.metrics_url + "/readyz", timeout=120, proc=proc)
    tree = descendants(proc.pid)
    assert len(tree) >= 4
    proc.kill()  # SIGKILL to the supervisor alone: no drain, no handler
    proc.wait(10)
    wait_for(lambda: not alive(tree), timeout=20, interval=0.5)
    again = subprocess.Popen(botcluster_cmd("start", "--config", str(files.config)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        wait_http(files.metrics_url + "/readyz", timeout=120, proc=again)
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(15) == 0
