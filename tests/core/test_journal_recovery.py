"""A start replays the journal whatever a line holds: bad records are skipped and counted,
never raised (they would fail the same way at every start)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path

import pytest

from botcluster.core.journal import Journal, JournalState
from botcluster.core.journal_records import MAX_PRIORITY
from tests.core.journal_support import NOM, Recovered, config, message


def _lines(path: Path, *lines: str) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def test_a_priority_beyond_any_float_is_clamped_not_a_crash_at_every_start(
        tmp_path: Path) -> None:
    cfg = config(tmp_path)
    _lines(cfg.bot.journal_path,
           json.dumps({"e": "queued", "m": "big", "msg": message("big", priority=10**400)}),
           json.dumps({"e": "queued", "m": "neg", "msg": message("neg", priority=-(10**400))}),
           json.dumps({"e": "queued", "m": "inf", "msg": message("inf", priority=1e999)}),
           json.dumps({"e": "queued", "m": "ok", "msg": message("ok")}))
    for _ in range(2):  # and again: the first start must not leave a crash for the second
        ranks = Recovered(cfg).run().ranks
        assert set(ranks) == {"big", "neg", "inf", "ok"}
        assert all(math.isfinite(r) for r in ranks.values())
        assert ranks["big"] > ranks["ok"] > ranks["neg"], "the order survives the clamp"
    state = JournalState.read(cfg.bot.journal_path)
    assert state.queued["big"]["priority"] == MAX_PRIORITY


def test_valid_json_with_wrong_types_is_skipped_counted_and_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = config(tmp_path)
    _lines(cfg.bot.journal_path,
           '{"e":"posted","m":"m1","r":"r1","t":"yesterday"}',
           '{"e":"posted","m":"m2","r":["r2"],"t":1.0}',
           '{"e":"posted","m":"m3","r":"r3","t":1e999}',
           '{"e":"queued","m":"m4","msg":{"id":"m4","text":7}}',
           '{"e":"done","m":{"id":"m5"}}',
           '["not", "an", "object"]',
           '{"e":"posted","m":"m6","r":"r6","t":1700000000.5,"n":"e1"}',
           '{"e":"queued","m":"m7","msg":' + json.dumps(message("m7")) + "}",
           '{"e":"posted","m":"m8","r":')
    with caplog.at_level(logging.WARNING):
        rec = Recovered(cfg).run()
    assert set(rec.heal.pending) == {"r6"} and rec.heal.pending["r6"].posted_at == 1700000000.5
    assert set(rec.ranks) == {"m7"}
    assert rec.state.applied == 2 and rec.state.skipped == 7 and rec.state.torn == 1
    assert rec.state.invalid == {"wrong_type": 4, "bad_value": 1, "not_object": 1}
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "skipped 7 line(s)" in logged and "line 1: t is str, not a number" in logged
    kept = cfg.bot.journal_path.with_name("journal.jsonl.skipped").read_text().splitlines()
    assert len(kept) == 7 and kept[0] == '{"e":"posted","m":"m1","r":"r1","t":"yesterday"}'


def test_heal_restore_skips_what_is_not_a_posted_record(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    rec = Recovered(config(tmp_path))
    with caplog.at_level(logging.WARNING):
        skipped = rec.heal.restore([{"e": "posted", "m": "m1", "r": "r1", "t": "soon"},
                                    {"e": "posted", "r": "r2"},
                                    {"e": "posted", "m": "m3", "r": "r3", "t": float("nan")},
                                    {"e": "posted", "m": "m4", "r": "r4", "t": 5.0}])
    assert skipped == 3 and set(rec.heal.pending) == {"r4"}
    assert "skipping posted record" in caplog.text


def test_a_queued_line_keeps_only_the_context_the_prompt_can_use(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    context = [f"user{i}: " + "x" * 3990 for i in range(1000)]  # the most the client accepts
    big = message("m1", context=context)
    journal = Journal.for_supervisor(cfg)

    async def go() -> None:
        await journal.append({"e": "queued", "m": "m1", "msg": big})
        await journal.aclose()

    asyncio.run(go())
    size = cfg.bot.journal_path.stat().st_size
    full = len(json.dumps({"e": "queued", "m": "m1", "msg": big}))
    assert full > 4_000_000 and size < 4000 * (NOM + 2), (full, size)
    state = JournalState.read(cfg.bot.journal_path)
    assert state.queued["m1"]["context"] == context[-(NOM + 1):]
