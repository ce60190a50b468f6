"""Journal fuzz: random truncations, wrong types and garbage lines among good records.

The whole recovery of a start runs on each journal (compaction, the poller's recovery into a
real dispatcher, heal's restore). It must never raise; every good record must be replayed and
every bad line skipped, counted and logged; and the compacted journal must replay cleanly.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botcluster.config.model import Config
from tests.core.journal_support import Recovered, config, message

EXAMPLES = int(os.environ.get("BOTCLUSTER_JOURNAL_FUZZ_EXAMPLES", "200"))
STATS = {"examples": 0, "lines": 0, "good": 0, "bad": 0, "garbage": 0}

ids = st.text(alphabet="abcxyz0123456789-", min_size=1, max_size=8)
# None: the poster gave no priority (the entity's defaultPriority applies).
priorities = st.one_of(st.integers(-(10**6), 10**6), st.integers(), st.just(10**400),
                       st.just(-(10**400)), st.floats(allow_nan=False), st.none())
seconds = st.floats(min_value=0, max_value=4e9)


@st.composite
def good_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["reply", "claimed", "posted", "done", "seen", "queued"]))
    m, r = draw(ids), draw(ids)
    if kind == "reply":
        return {"e": kind, "m": m, "r": r}
    if kind == "claimed":
        return {"e": kind, "m": m}
    if kind == "posted":
        ev = {"e": kind, "m": m, "r": r}
        if draw(st.booleans()):
            ev["t"] = draw(seconds)
        if draw(st.booleans()):
            ev["n"] = draw(st.text(max_size=5))
        return ev
    if kind == "done":
        return {"e": kind, "m": m, "o": draw(st.sampled_from(["replied", "returned", "failed"]))}
    if kind == "seen":
        return {"e": kind, "r": r}
    context = draw(st.none() | st.lists(st.text(max_size=10), max_size=4))
    return {"e": kind, "m": m, "msg": message(m, priority=draw(priorities), context=context)}


def _json(ev: dict[str, Any]) -> bytes:
    return json.dumps(ev, separators=(",", ":")).encode()


# Values of the wrong type (or out of range) for each field a record carries.
NOT_A_STRING = st.one_of(st.integers(), st.floats(), st.booleans(), st.none(),
                         st.lists(st.integers(), max_size=2), st.just({"a": 1}))
NOT_A_TIME = st.one_of(st.text(max_size=5), st.booleans(), st.none(), st.just([1.0]),
                       st.just(float("nan")), st.just(float("inf")), st.just(-1.0),
                       st.just(10**400))
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "m": NOT_A_STRING, "r": NOT_A_STRING, "n": NOT_A_STRING, "o": NOT_A_STRING,
    "t": NOT_A_TIME, "e": st.one_of(st.just("bogus"), NOT_A_STRING),
    "msg": st.one_of(st.integers(), st.text(max_size=5), st.none(), st.just([1])),
}
WRONG_MESSAGE: dict[str, st.SearchStrategy[Any]] = {
    "id": NOT_A_STRING, "text": NOT_A_STRING, "username": NOT_A_STRING,
    "timestamp": st.one_of(st.text(max_size=3), st.just(1.5), st.none(), st.booleans()),
    "message_type": st.sampled_from(["robot", "", None, 1]),
    "priority": st.one_of(st.text(max_size=3), st.booleans(), st.just(float("nan"))),
    "context": st.one_of(st.text(max_size=3), st.just([1, 2]), st.just({"a": "b"})),
    "processed": st.sampled_from(["yes", 1, [True]]),
    "entity": st.sampled_from([1, ["e1"], {"e": 1}]),
}


@st.composite
def bad_lines(draw: st.DrawFn) -> bytes:
    """A line that cannot be replayed: a torn write, a wrong type, or a missing field."""
    ev = draw(good_events())
    how = draw(st.sampled_from(["truncate", "wrong_type", "missing"]))
    if how == "truncate":
        raw = _json(ev)
        return raw[:draw(st.integers(1, len(raw) - 1))]
    if how == "missing":
        del ev[draw(st.sampled_from(sorted(k for k in ev if k not in ("t", "n", "o"))))]
        return _json(ev)
    if ev["e"] == "queued" and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(WRONG_MESSAGE)))
        ev["msg"][key] = draw(WRONG_MESSAGE[key])
    else:
        key = draw(st.sampled_from(sorted(ev)))
        ev[key] = draw(WRONG[key])
    return _json(ev)


GARBAGE = st.one_of(
    st.binary(min_size=1, max_size=60),
    st.sampled_from([b"[" * 100_000, b"1" * 5_000, b"NaN", b"null", b'"text"', b"{}",
                     b'{"e":"posted"', b"\xff\xfe{}", b'{"e":"seen","r":"a"}}']),
    st.recursive(st.none() | st.integers() | st.text(max_size=4),
                 lambda inner: st.lists(inner, max_size=3), max_leaves=6)
    .map(lambda v: json.dumps(v).encode()),
).filter(lambda b: b"\n" not in b and b.strip() != b"")

KINDS: dict[str, st.SearchStrategy[bytes]] = {
    "good": good_events().map(_json), "bad": bad_lines(), "garbage": GARBAGE}
lines = st.lists(st.sampled_from(sorted(KINDS)).flatmap(
    lambda kind: KINDS[kind].map(lambda raw: (kind, raw))), max_size=40)


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Config]:
    yield config(tmp_path_factory.mktemp("fuzz"))
    print(f"\njournal fuzz figures: {STATS}")  # shown with -s, for the record of a run


@pytest.fixture(autouse=True, scope="module")
def _no_fsync() -> Iterator[None]:
    """Durability is not what this test checks, and 4 fsyncs per example dominate its time."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "fsync", lambda fd: None)
        yield


@pytest.fixture
def warnings() -> Iterator[_Warnings]:
    handler = _Warnings()
    logger = logging.getLogger("botcluster.core.journal_state")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(journal=lines)
def test_recovery_never_raises_and_says_what_it_skipped(
        cfg: Config, warnings: _Warnings, journal: list[tuple[str, bytes]]) -> None:
    path = cfg.bot.journal_path
    path.write_bytes(b"".join(raw + b"\n" for _, raw in journal))
    path.with_name(path.name + ".skipped").unlink(missing_ok=True)
    warnings.lines.clear()
    count = {k: sum(1 for kind, _ in journal if kind == k) for k in ("good", "bad", "garbage")}

    first = Recovered(cfg).run()

    assert first.state.applied == count["good"]
    assert first.state.skipped == count["bad"] + count["garbage"]
    assert all(math.isfinite(rank) for rank in first.ranks.values())
    assert first.heal_skipped == 0, "nothing bad gets past the journal to heal"
    if first.state.skipped:
        assert any(f"skipped {first.state.skipped} line(s)" in w for w in warnings.lines)
        kept = path.with_name(path.name + ".skipped").read_bytes().split(b"\n")[:-1]
        assert len(kept) == min(first.state.skipped, 100)
    again = Recovered(cfg).run()
    assert again.state.skipped == 0, "the compacted journal replays cleanly"
    assert set(again.ranks) == set(first.ranks)
    assert set(again.heal.pending) == set(first.heal.pending)
    STATS["examples"] += 1
    STATS["lines"] += len(journal)
    for k, n in count.items():
        STATS[k] += n
