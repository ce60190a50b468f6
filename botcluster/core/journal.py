"""The append-only journal: what must survive a crash of the whole bot.

One JSON object per line, appended with aiofiles by every process (O_APPEND, one write per
line, so lines from different processes never interleave). Events:

    {"e": "reply",   "m": message id, "r": reply id}           before the first POST (fsynced)
    {"e": "claimed", "m": message id}                           server claim held by this bot
    {"e": "posted",  "m", "r", "t": unix time, "n": entity}     the server acknowledged the POST
    {"e": "done",    "m", "o": outcome}                         the message needs nothing more
    {"e": "seen",    "r"}                                       the reply is visible in the cache
    {"e": "queued",  "m", "msg": message fields}                the poller queued this message

`JournalState.read` folds a file into what a restarted bot needs; a torn last line (a crash in
the middle of a write) is skipped. `compact` rewrites the file with only live state.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiofiles
from aiofiles.threadpool.binary import AsyncFileIO

from botcluster.errors import JournalError

log = logging.getLogger(__name__)

REMEMBER_DONE = 50_000  # answered ids kept across restarts for dedup (bounded)


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
    torn: int = 0

    @classmethod
    def read(cls, path: Path) -> JournalState:
        state = cls()
        if not path.exists():
            return state
        with path.open("rb") as f:
            for raw in f:
                try:
                    event = json.loads(raw)
                    state.apply(event)
                except (ValueError, KeyError, TypeError):
                    state.torn += 1
        if state.torn:
            log.warning("journal %s: skipped %d unreadable line(s)", path, state.torn)
        return state

    def apply(self, ev: dict[str, Any]) -> None:
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


def compact(path: Path) -> JournalState:
    """Rewrite the journal with only live state (atomically: temp file, fsync, rename)."""
    state = JournalState.read(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as f:
        for ev in state.live_events():
            f.write(_line(ev))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return state


class Journal:
    """An async appender for one process. `durable=True` fsyncs before returning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: AsyncFileIO | None = None
        self._lock = asyncio.Lock()

    async def append(self, event: dict[str, Any], durable: bool = False) -> None:
        async with self._lock:
            try:
                f = self._file
                if f is None:
                    f = self._file = await self._open()
                await f.write(_line(event))
                if durable:
                    await asyncio.to_thread(os.fsync, f.fileno())
            except OSError as exc:
                raise JournalError(f"{self.path}: {exc}") from exc

    async def _open(self) -> AsyncFileIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = await aiofiles.open(self.path, "ab", buffering=0)
        if await asyncio.to_thread(_ends_torn, self.path):
            await f.write(b"\n")  # end a torn line so it does not swallow ours
        return f

    async def aclose(self) -> None:
        if self._file is not None:
            await self._file.close()
            self._file = None


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
