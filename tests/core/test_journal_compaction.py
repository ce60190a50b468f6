"""The journal is compacted during the run, not only at start, and no append is ever lost to a
compaction, even one made while other processes append."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from pathlib import Path
from typing import Any

from botcluster.core.journal import COMPACT_BYTES, Journal, JournalState
from tests.core.journal_support import config, message


def _lifecycle(i: int) -> list[dict[str, Any]]:
    """One answered message, as a run journals it."""
    m, r = f"m{i}", f"r{i}"
    return [{"e": "queued", "m": m, "msg": message(m, context=["x: " + "y" * 200] * 3)},
            {"e": "claimed", "m": m}, {"e": "reply", "m": m, "r": r},
            {"e": "posted", "m": m, "r": r, "t": 1.0, "n": "e1"},
            {"e": "done", "m": m, "o": "replied"}, {"e": "seen", "r": r}]


def _append(journal: Journal, events: list[dict[str, Any]]) -> None:
    async def go() -> None:
        for ev in events:
            await journal.append(ev)
        await journal.aclose()

    asyncio.run(go())


def _same_state(a: JournalState, b: JournalState) -> None:
    assert (a.reply_ids, a.claimed, a.posted, dict(a.done), a.queued) == (
        b.reply_ids, b.claimed, b.posted, dict(b.done), b.queued)


def test_a_long_run_keeps_the_journal_small_and_its_state_whole(tmp_path: Path) -> None:
    events = [ev for i in range(600) for ev in _lifecycle(i)]
    events += _lifecycle(9999)[:4]  # one still in flight: queued, claimed, reply, posted
    lines = [json.dumps(ev, separators=(",", ":")).encode() + b"\n" for ev in events]
    journal = Journal(tmp_path / "journal.jsonl", compact_bytes=40_000)
    _append(journal, events)
    size, appended = journal.path.stat().st_size, sum(len(line) for line in lines)
    assert appended > 600_000 and journal.compactions >= 3
    assert size < appended / 10, (size, appended)
    _same_state(JournalState.read(journal.path), JournalState.from_lines(lines, "all"))


def test_the_supervisors_journal_compacts_during_the_run(tmp_path: Path) -> None:
    journal = Journal.for_supervisor(config(tmp_path))
    assert journal.compact_bytes == COMPACT_BYTES


def _worker_appends(path: str, who: int, n: int) -> None:
    _append(Journal(Path(path)), [{"e": "done", "m": f"p{who}-{i}", "o": "replied"}
                                  for i in range(n)])


def test_no_append_from_another_process_is_lost_to_a_compaction(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_appends, args=(str(path), n, 400)) for n in range(3)]
    for p in procs:
        p.start()
    # The supervisor meanwhile: every few lines a compaction, while the workers append.
    supervisor = Journal(path, compact_bytes=2_000)
    async def churn() -> None:
        i = 0
        while any(p.is_alive() for p in procs) or i < 50:
            await supervisor.append({"e": "posted", "m": f"s{i}", "r": f"rs{i}", "t": 1.0})
            await supervisor.append({"e": "seen", "r": f"rs{i}"})
            i += 1
        await supervisor.aclose()

    asyncio.run(churn())
    for p in procs:
        p.join(60)
    assert supervisor.compactions >= 10
    state = JournalState.read(path)
    assert state.skipped == 0
    assert set(state.done) == {f"p{w}-{i}" for w in range(3) for i in range(400)}
    assert not state.posted
