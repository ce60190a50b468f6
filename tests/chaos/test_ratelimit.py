"""Chaos 4: a rate-limited entity gets 10 messages in 2 s; all 10 are answered, spaced as its
limits require (CONTRACT.md: a rate-limited message was once skipped and never answered)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.chaos import harness as h

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

MIN_GAP_S = 1.0
PER_MINUTE = 30
HOSTS = (h.SimHost("studio-1", (("sage@q4", True),), slots=4),)
ENTITIES = (h.EntitySpec("slow-sage", "SlowSage", "sage@q4", min_seconds_between_posts=MIN_GAP_S,
                         max_posts_per_minute=PER_MINUTE),)


def test_ten_messages_in_two_seconds_all_answered_and_spaced(tmp_path: Path) -> None:
    with h.board(tmp_path) as board, h.sim(tmp_path, HOSTS) as sim:
        bot = h.Bot.configured(tmp_path, board.url, sim.urls, HOSTS, ENTITIES,
                               workers=2, jobs_per_worker=4)
        with bot.serving(workers=2):
            result, report = h.run_stress(
                board.url, tmp_path / "stress.json", messages=10, entities=[ENTITIES[0].id],
                deadline=90, spread=2.0, timeout=120)
            stored = board.records()
    assert report["replied_once"] == 10, (report["missing"], report["duplicated"])
    assert result.returncode == 0
    # whole milliseconds, as stored: float seconds could make an exact 1000 ms gap 0.9999
    posted = sorted(int(r["timestamp"]) for r in stored if r.get("message-type") == "AI")
    assert len(posted) == 10
    gaps = [b - a for a, b in itertools.pairwise(posted)]
    print(f"MEASURED reply gaps (ms) {gaps}")
    assert min(gaps) >= MIN_GAP_S * 1000, gaps
    assert all(sum(1 for t in posted if s <= t < s + 60_000) <= PER_MINUTE for s in posted)
