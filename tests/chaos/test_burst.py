"""Chaos 1, the users' own test: 29 messages at once against a board that loses cache writes.

In production 3 of 29 simultaneous replies vanished in the cache race; here every one of the 29
must be visible exactly once, and the run must show that the race really happened.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import harness as h

pytestmark = [pytest.mark.timeout(180)]

HOSTS = (h.SimHost("studio-1", (("guide@q4", True), ("eternal@q4", True)), slots=4),)
ENTITIES = (h.EntitySpec("emotional-intelligence", "EmotionalGuide", "guide@q4"),
            h.EntitySpec("the-eternal", "TheEternal", "eternal@q4"))


def test_29_at_once_with_the_cache_race_all_visible_exactly_once(tmp_path: Path) -> None:
    with h.board(tmp_path, "--cache-race") as board, h.sim(tmp_path, HOSTS) as sim:
        bot = h.Bot.configured(tmp_path, board.url, sim.urls, HOSTS, ENTITIES)
        with bot.serving(workers=3, log_chars=6000):
            result, report = h.run_stress(
                board.url, tmp_path / "stress.json", messages=29,
                entities=[e.id for e in ENTITIES], deadline=90, sim_ports=sim.ports_file,
                timeout=120)
            stored = board.records()
    assert report["replied_once"] == 29, report
    assert result.returncode == 0
    assert not report["duplicated"] and not report["missing"]
    ex = report["exercised"]
    # The run must have exercised the race, or a pass would prove nothing.
    assert ex["overlapping_cache_writes"] > 0, ex
    # The durable records agree: one reply each, every human message complete.
    sent = set(report_ids := [m for m in _sent_ids(stored, report)])
    replies = [r for r in stored if r.get("message-type") == "AI" and r.get("replyTo") in sent]
    assert len(replies) == 29 == len(report_ids)
    assert all(r["botParams"]["status"] == "complete" for r in stored if r["id"] in sent)


def _sent_ids(stored: list[dict[str, object]], report: dict[str, object]) -> list[str]:
    return [str(r["id"]) for r in stored if r.get("message-type") == "human"]
