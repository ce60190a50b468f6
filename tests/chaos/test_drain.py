"""Chaos 3: SIGTERM in the middle of a burst drains cleanly, and a restart finishes the rest.

The bot must exit 0 within 10 s with none of its processes left, keep what it had claimed but
not answered for its next start, and the next start must answer everything left, none of it
twice.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.chaos import harness as h
from tests.support.ptree import alive, descendants

pytestmark = [pytest.mark.slow, pytest.mark.timeout(200)]

MESSAGES = 40
# Slow generation (about 1 s a reply, 2 slots) so that the burst is still running at SIGTERM.
HOSTS = (h.SimHost("studio-1", (("guide@q4", True),), slots=2, tokens_per_s=20.0),)
ENTITIES = (h.EntitySpec("emotional-intelligence", "EmotionalGuide", "guide@q4"),)


def _replies(board_url: str) -> int:
    try:
        rows = httpx.get(board_url + "/api/comments",
                         params={"after": 0, "limit": 1000, "type": "AI"}, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return 0
    return len({r["id"] for r in rows})


def test_sigterm_during_a_burst_drains_and_a_restart_finishes(tmp_path: Path) -> None:
    with h.board(tmp_path) as board, h.sim(tmp_path, HOSTS) as sim:
        bot = h.Bot.configured(tmp_path, board.url, sim.urls, HOSTS, ENTITIES,
                               workers=2, jobs_per_worker=2)
        out = tmp_path / "stress.json"
        try:
            bot.start(workers=2)
            stress = h.popen(h.stress_cmd(board.url, out, messages=MESSAGES,
                                          entities=[ENTITIES[0].id], deadline=150),
                             tmp_path / "stress.log")
            deadline = time.monotonic() + 60
            while _replies(board.url) < 5 and time.monotonic() < deadline:
                time.sleep(0.2)
            answered_before = _replies(board.url)
            assert proc_running(bot), h.tail(bot.log)
            assert bot.proc is not None
            tree = descendants(bot.proc.pid)
            began = time.monotonic()
            code = bot.terminate(timeout=10)  # raises if the drain takes longer
            drain_s = time.monotonic() - began
            time.sleep(0.5)
            left = alive(tree)
            bot.start(workers=2)
            stress.wait(170)
            report = h.read_report(out)
            stored = board.records()
        finally:
            bot.stop()
            print(h.tail(tmp_path / "stress.log", 2000))
            print(h.tail(bot.log, 4000))
    print(f"MEASURED drain {drain_s:.1f}s, replies before SIGTERM {answered_before}")
    assert code == 0
    assert not left, f"processes left after the drain: {left}"
    assert answered_before < MESSAGES, "the burst had finished before SIGTERM: nothing drained"
    assert report["replied_once"] == MESSAGES, (report["missing"], report["duplicated"])
    assert not report["duplicated"]
    humans = [r for r in stored if r.get("message-type") == "human"]
    replies = [r for r in stored if r.get("message-type") == "AI"]
    assert len(humans) == MESSAGES and len(replies) == MESSAGES
    assert len({r["replyTo"] for r in replies}) == MESSAGES
    assert all(r["botParams"]["status"] == "complete" for r in humans)


def proc_running(bot: h.Bot) -> bool:
    return bot.proc is not None and bot.proc.poll() is None
