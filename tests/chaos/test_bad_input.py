"""Chaos 5: bad input from the server is counted and skipped; the good messages around it are
answered. A proxy in front of the board (badserver.py) adds missing fields, wrong types, a 1 MB
text, an unknown entity and a non-object to every pending list, and cuts every 7th answer in
the middle so that it is not JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import harness as h
from tests.chaos.badserver import bad_server

pytestmark = [pytest.mark.timeout(150)]

HOSTS = (h.SimHost("studio-1", (("guide@q4", True),), slots=4),)
ENTITIES = (h.EntitySpec("emotional-intelligence", "EmotionalGuide", "guide@q4"),)
REASONS = ("missing_field", "wrong_type", "oversize_text", "not_object", "not_json",
           "unknown_entity")


def test_bad_records_are_counted_and_skipped_good_ones_answered(tmp_path: Path) -> None:
    with h.board(tmp_path) as board, h.sim(tmp_path, HOSTS) as sim, \
            bad_server(board.url) as api:
        bot = h.Bot.configured(tmp_path, api, sim.urls, HOSTS, ENTITIES,
                               workers=2, jobs_per_worker=2)
        with bot.serving(workers=2):
            result, report = h.run_stress(
                board.url, tmp_path / "stress.json", messages=12, entities=[ENTITIES[0].id],
                deadline=60, spread=3.0, timeout=90)
            metrics = bot.scrape()
            alive = bot.proc is not None and bot.proc.poll() is None
    assert alive, "the bot must not crash on bad input"
    assert report["replied_once"] == 12, (report["missing"], report["duplicated"])
    assert result.returncode == 0
    skipped = {r: h.metric(metrics, "botcluster_skipped_messages_total", f'reason="{r}"')
               for r in REASONS}
    print(f"MEASURED skips {skipped}")
    assert all(n >= 1 for n in skipped.values()), skipped
    # Counted once per bad message, not once per poll that saw it again.
    assert skipped["missing_field"] == 1 and skipped["unknown_entity"] == 1, skipped
