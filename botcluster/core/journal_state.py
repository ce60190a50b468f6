"""What a restarted bot needs from the journal, folded from its lines (events: core/journal.py).

Reading never raises on what a line holds: a line that is not JSON (a torn write, garbage) or
not a valid record (core/journal_records.py) is skipped, counted by reason, and logged once
with the first few line numbers; its raw bytes are kept in `skipped_lines` for the caller.
"""

from __future__ import annotations

import collections
import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botcluster.core.journal_records import BadRecord, check

log = logging.getLogger(__name__)

REMEMBER_DONE = 50_000  # answered ids kept across restarts for dedup (bounded)
KEEP_SKIPPED_LINES = 100  # raw lines kept for the operator, per read
SHOW_SKIPPED = 5  # skipped lines described in the log line


@dataclass
class JournalState:
    reply_ids: dict[str, str] = field(default_factory=dict)  # message -> reply id
    claimed: set[str] = field(default_factory=set)
    posted: dict[str, dict[str, Any]] = field(default_factory=dict)  # reply id -> event
    done: OrderedDict[str, str] = field(default_factory=OrderedDict)  # message -> outcome
    # message -> its fields, for messages queued and not done: the KV server lists pending
    # messages only while they sit in its 200-message cache, so after a crash the journal may
    # be the only place a queued (or claimed) message can still be found.
    queued: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: int = 0  # records replayed
    torn: int = 0  # lines that are not JSON (a crash mid-write, garbage)
    invalid: collections.Counter[str] = field(default_factory=collections.Counter)  # by reason
    skipped_lines: list[bytes] = field(default_factory=list)  # the first KEEP_SKIPPED_LINES

    @property
    def skipped(self) -> int:
        return self.torn + sum(self.invalid.values())

    @classmethod
    def read(cls, path: Path) -> JournalState:
        if not path.exists():
            return cls()
        with path.open("rb") as f:
            return cls.from_lines(f, str(path))

    @classmethod
    def from_lines(cls, lines: Iterable[bytes], where: str) -> JournalState:
        state = cls()
        notes: list[str] = []
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            problem = state._replay(raw)
            if problem:
                if len(state.skipped_lines) < KEEP_SKIPPED_LINES:
                    state.skipped_lines.append(raw.rstrip(b"\n"))
                if len(notes) < SHOW_SKIPPED:
                    notes.append(f"line {number}: {problem}")
        if state.skipped:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(state.invalid.items()))
            log.warning("journal %s: skipped %d line(s) (%d not JSON%s); %s%s", where,
                        state.skipped, state.torn, f", {reasons}" if reasons else "",
                        "; ".join(notes), "; ..." if state.skipped > len(notes) else "")
        return state

    def _replay(self, raw: bytes) -> str:
        """Apply one line; returns why it was skipped, or "" when it was applied."""
        try:
            event = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            self.torn += 1
            return f"not JSON ({type(exc).__name__})"
        try:
            self.apply(check(event))
        except BadRecord as exc:
            self.invalid[exc.reason] += 1
            return str(exc)
        self.applied += 1
        return ""

    def apply(self, ev: dict[str, Any]) -> None:
        """Fold one record that `journal_records.check` accepted."""
        kind = ev["e"]
        if kind == "reply":
            self.reply_ids[ev["m"]] = ev["r"]
        elif kind == "claimed":
            self.claimed.add(ev["m"])
        elif kind == "posted":
            self.posted[ev["r"]] = ev
        elif kind == "queued":
            if ev["m"] not in self.done:
                self.queued[ev["m"]] = dict(ev["msg"])
        elif kind == "done" and ev.get("o") == "returned":
            # Given back to the server at a drain: no longer claimed, but not answered either,
            # so the next start must queue it again (and keep its reply id, if one was chosen).
            self.claimed.discard(ev["m"])
        elif kind == "done":
            self.done[ev["m"]] = ev.get("o", "")
            self.queued.pop(ev["m"], None)
            self.done.move_to_end(ev["m"])
            self.reply_ids.pop(ev["m"], None)
            self.claimed.discard(ev["m"])
            while len(self.done) > REMEMBER_DONE:
                self.done.popitem(last=False)
        elif kind == "seen":
            self.posted.pop(ev["r"], None)

    def live_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [{"e": "done", "m": m, "o": o}
                                        for m, o in self.done.items()]
        events += [{"e": "queued", "m": m, "msg": msg} for m, msg in self.queued.items()]
        events += [{"e": "reply", "m": m, "r": r} for m, r in self.reply_ids.items()]
        events += [{"e": "claimed", "m": m} for m in sorted(self.claimed)]
        events += list(self.posted.values())
        return events
