"""The append-only journal: what must survive a crash of the whole bot.

One JSON object per line, appended with aiofiles by every process (O_APPEND, one write per
line, so lines from different processes never interleave). Events:

    {"e": "reply",   "m": message id, "r": reply id}           before the first POST (fsynced)
    {"e": "claimed", "m": message id}                           server claim held by this bot
    {"e": "posted",  "m", "r", "t": unix time, "n": entity}     the server acknowledged the POST
    {"e": "done",    "m", "o": outcome}                         the message needs nothing more
    {"e": "seen",    "r"}                                       the reply is visible in the cache
    {"e": "queued",  "m", "msg": message fields}                the poller queued this message

`JournalState.read` (core/journal_state.py) folds a file into what a restarted bot needs,
skipping and counting the lines it cannot replay. `compact` rewrites the file with only live
state: at start, and during the run whenever the supervisor's journal passes a size threshold.

Compacting while other processes append: every append holds a shared flock on the journal file
and checks, under it, that its descriptor still is the file at `path` (else it reopens);
`compact` holds the exclusive flock on the file it reads until the rewritten file has replaced
it. So no append can land in a file that has just been replaced.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiofiles
from aiofiles.threadpool.binary import AsyncFileIO

from botcluster.core.journal_records import bound_context
from botcluster.core.journal_state import REMEMBER_DONE, JournalState
from botcluster.errors import JournalError

if TYPE_CHECKING:
    from botcluster.config.model import Config

log = logging.getLogger(__name__)

# Compact during the run once the file passes this size, or twice its size after the last
# compaction if that is more (so compacting stays linear in what was appended).
COMPACT_BYTES = 16 * 1024 * 1024

__all__ = ["COMPACT_BYTES", "REMEMBER_DONE", "Journal", "JournalState", "compact"]


def compact(path: Path, keep_context: int | None = None) -> JournalState:
    """Rewrite the journal with only live state (atomically: temp file, fsync, rename), under
    the exclusive lock. Lines it could not replay go to `<journal>.skipped`, not away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _lock_current(path, fcntl.LOCK_EX)
    try:
        with open(fd, "rb", closefd=False) as f:
            state = JournalState.from_lines(f, str(path))
        if state.skipped_lines:
            _keep_skipped(path, state.skipped_lines)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with tmp.open("wb") as f:
            for ev in state.live_events():
                f.write(_line(bound_context(ev, keep_context)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        os.close(fd)  # drops the lock: waiting appenders find the new file
    return state


def _keep_skipped(path: Path, lines: list[bytes]) -> None:
    kept = path.with_name(path.name + ".skipped")
    with kept.open("ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))
    log.warning("journal %s: the skipped line(s) are kept in %s", path, kept)


class Journal:
    """An async appender for one process. `durable=True` fsyncs before returning.

    `keep_context`: a `queued` event keeps only that many context lines (the prompt uses at
    most an entity's `nom` lines). `compact_bytes`: compact once the file is that large.
    """

    def __init__(self, path: Path, *, keep_context: int | None = None,
                 compact_bytes: int | None = None) -> None:
        self.path = path
        self.keep_context = keep_context
        self.compact_bytes = compact_bytes
        self.compactions = 0
        self._compact_at = compact_bytes
        self._file: AsyncFileIO | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def for_supervisor(cls, config: Config) -> Journal:
        # One line more than the largest `nom`: the site may repeat the human line last, and
        # the prompt drops that copy before taking `nom` lines (prompt.context_window).
        keep = max((e.nom for e in config.entities.values()), default=0) + 1
        return cls(config.bot.journal_path, keep_context=keep, compact_bytes=COMPACT_BYTES)

    async def append(self, event: dict[str, Any], durable: bool = False) -> None:
        line = _line(bound_context(event, self.keep_context))
        async with self._lock:
            try:
                f = await self._locked()
                try:
                    await f.write(line)
                    if durable:
                        await asyncio.to_thread(os.fsync, f.fileno())
                    size = os.fstat(f.fileno()).st_size
                finally:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
            except OSError as exc:
                raise JournalError(f"{self.path}: {exc}") from exc
            if self._compact_at is not None and size >= self._compact_at:
                await self._compact(size)

    async def _locked(self) -> AsyncFileIO:
        """The open journal, under the shared lock; reopened if a compaction replaced it."""
        while True:
            fresh = self._file is None
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = await aiofiles.open(self.path, "ab", buffering=0)
            f = self._file
            if await asyncio.to_thread(_lock_if_current, f.fileno(), self.path):
                if fresh and await asyncio.to_thread(_ends_torn, self.path):
                    await f.write(b"\n")  # end a torn line so it does not swallow ours
                return f
            self._file = None
            await f.close()

    async def _compact(self, size: int) -> None:
        try:
            await asyncio.to_thread(compact, self.path, self.keep_context)
            after = self.path.stat().st_size
        except OSError as exc:  # the appends still work: try again when it has doubled
            log.warning("journal %s: compaction failed: %s", self.path, exc)
            after = size
        self.compactions += 1
        self._compact_at = max(self.compact_bytes or 0, 2 * after)
        log.info("journal %s compacted: %d -> %d bytes", self.path, size, after)

    async def aclose(self) -> None:
        if self._file is not None:
            await self._file.close()
            self._file = None


def _same_file(fd: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def _lock_if_current(fd: int, path: Path) -> bool:
    fcntl.flock(fd, fcntl.LOCK_SH)
    if _same_file(fd, path):
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _lock_current(path: Path, how: int) -> int:
    while True:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, how)
        if _same_file(fd, path):
            return fd
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_torn(path: Path) -> bool:
    with path.open("rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
