"""The journal survives crashes: torn lines, compaction, concurrent appenders."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
from pathlib import Path

from botcluster.core.journal import Journal, JournalState, compact


def _write(path: Path, events: list[dict[str, object]]) -> None:
    async def go() -> None:
        j = Journal(path)
        for ev in events:
            await j.append(ev, durable=True)
        await j.aclose()

    asyncio.run(go())


def test_a_restart_sees_replies_claims_and_unverified_posts(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, [
        {"e": "reply", "m": "m1", "r": "r1"}, {"e": "claimed", "m": "m1"},
        {"e": "posted", "m": "m1", "r": "r1", "t": 1.0, "n": "e"},
        {"e": "reply", "m": "m2", "r": "r2"}, {"e": "claimed", "m": "m2"},
        {"e": "posted", "m": "m2", "r": "r2", "t": 2.0, "n": "e"}, {"e": "done", "m": "m2"},
        {"e": "seen", "r": "r2"}, {"e": "reply", "m": "m3", "r": "r3"},
    ])
    state = JournalState.read(path)
    assert state.reply_ids == {"m1": "r1", "m3": "r3"}
    assert state.claimed == {"m1"}
    assert set(state.posted) == {"r1"}
    assert list(state.done) == ["m2"]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    _write(path, [{"e": "reply", "m": "m1", "r": "r1"}])
    with path.open("ab") as f:
        f.write(b'{"e":"posted","m":"m1","r":')  # the crash happened mid-write
    state = JournalState.read(path)
    assert state.torn == 1 and state.reply_ids == {"m1": "r1"}
    _write(path, [{"e": "done", "m": "m1"}])  # appending after a torn line still works
    assert "m1" in compact(path).done


def test_compaction_keeps_only_live_state(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    events: list[dict[str, object]] = []
    for i in range(200):
        events += [{"e": "reply", "m": f"m{i}", "r": f"r{i}"}, {"e": "claimed", "m": f"m{i}"},
                   {"e": "posted", "m": f"m{i}", "r": f"r{i}", "t": 1.0},
                   {"e": "done", "m": f"m{i}", "o": "replied"}, {"e": "seen", "r": f"r{i}"}]
    events.append({"e": "posted", "m": "x", "r": "rx", "t": 5.0})
    _write(path, events)
    before = path.stat().st_size
    state = compact(path)
    assert path.stat().st_size < before / 3
    again = JournalState.read(path)
    assert set(again.posted) == {"rx"} and len(again.done) == 200 and not again.claimed
    assert again.reply_ids == state.reply_ids == {}


def _append_many(path: str, who: int) -> None:
    _write(Path(path), [{"e": "done", "m": f"p{who}-{i}", "o": "x" * 200} for i in range(300)])


def test_concurrent_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), n)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 900
    assert all(json.loads(line)["e"] == "done" for line in lines)
