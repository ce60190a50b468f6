"""The recent cache (`recent:comments`): the last 200 messages as ONE value, ascending by time.

Every change is a read of the whole list, an edit, and a write of the whole list, as on the site.
Without the race fault the three steps run with no await between them, so on one event loop they
cannot interleave and nothing is lost. With `cache_race` on, the coroutine sleeps between the read
and the write (the site's KV round trip), so concurrent changes interleave for real and the last
writer erases whatever landed in between: the site's lost update, reproduced, not simulated.

Like the site, cache write errors are logged and swallowed: the record is the truth.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from botcluster.board import wire
from botcluster.board.settings import CACHE_SIZE, Faults
from botcluster.board.store import CACHE_KEY, Message, StorageError, Store

log = logging.getLogger(__name__)

# An edit gets the list as read and returns the list to write, or None to write nothing.
Edit = Callable[[list[Message]], list[Message] | None]


@dataclass
class CacheCounters:
    """What the cache has been through; served in `/api/stats` under "board"."""

    writes: int = 0
    overlapping_writes: int = 0  # writes whose read preceded another writer's landed write
    failed_writes: int = 0
    stale_reads: int = 0
    unservable: int = 0  # cached items skipped on reads because they cannot be served


class RecentCache:
    """Read-modify-write access to the cache value in the store."""

    def __init__(self, store: Store, faults: Faults, monotonic: Callable[[], float]) -> None:
        self._store = store
        self._faults = faults
        self._monotonic = monotonic
        # Cache writes handed to the store so far. The store runs calls one at a time in the
        # order they are handed over, so this is also the order in which writes land; a read
        # remembers the count it saw, and a write is overlapping if the count moved since.
        self._dispatched = 0
        self._snapshot: list[Message] | None = None
        self._snapshot_at = 0.0
        self._lock = asyncio.Lock()
        self.counters = CacheCounters()

    async def read(self) -> list[Message]:
        """The cache as stored now; [] when empty or unreadable."""
        try:
            raw = await self._store.get_value(CACHE_KEY)
            items, skipped = _parse(raw)
        except StorageError:
            log.exception("cache read failed")
            return []
        if skipped:
            self.counters.unservable += skipped
            log.warning("%d cached items cannot be served; skipped", skipped)
        return items

    async def read_for_get(self) -> list[Message]:
        """A read on a GET path: from a snapshot up to `stale_reads_s` old when that fault is on."""
        max_age = self._faults.current.stale_reads_s
        if max_age <= 0:
            return await self.read()
        now = self._monotonic()
        if self._snapshot is None or now - self._snapshot_at > max_age:
            self._snapshot = await self.read()
            self._snapshot_at = now
        else:
            self.counters.stale_reads += 1
        return list(self._snapshot)

    async def change(self, edit: Edit) -> bool:
        """Read the whole list, apply `edit`, write the whole list. True if a write landed."""
        faults = self._faults.current
        if faults.cache_race:
            return await self._change(edit, faults.race_pause_ms / 1000.0)
        # The store's calls are awaits, so without the race fault a lock keeps the three
        # steps together, as one event-loop turn would.
        async with self._lock:
            return await self._change(edit, 0.0)

    async def _change(self, edit: Edit, pause_s: float) -> bool:
        seen = self._dispatched
        current = await self.read()
        if pause_s > 0:
            await asyncio.sleep(pause_s)
        updated = edit(current)
        if updated is None:
            return False
        updated = updated[-CACHE_SIZE:]
        if self._dispatched != seen:
            self.counters.overlapping_writes += 1
        self._dispatched += 1
        try:
            await self._store.put_value(CACHE_KEY, wire.dumps(updated))
        except StorageError:
            self.counters.failed_writes += 1
            log.exception("cache write failed (swallowed, as on the site)")
            return False
        self.counters.writes += 1
        return True

    async def append(self, message: Message) -> bool:
        """Append a copy at the end, no dedup (POST and add-to-cache), like the site.

        The list is ascending by time only as long as clients send current timestamps; a message
        with an old timestamp still goes to the end, so a heal is not dropped at once by the trim.
        """
        def edit(items: list[Message]) -> list[Message]:
            items.append(message)
            return items
        return await self.change(edit)

    async def replace(self, message: Message) -> bool:
        """Overwrite every cached copy of the message's id; no write if it is not cached."""
        def edit(items: list[Message]) -> list[Message] | None:
            hits = [i for i, m in enumerate(items) if m.get("id") == message["id"]]
            for i in hits:
                items[i] = message
            return items if hits else None
        return await self.change(edit)


def _parse(raw: str | None) -> tuple[list[Message], int]:
    """The servable items of the stored cache value, and how many were skipped."""
    if not raw:
        return [], 0
    try:
        items = json.loads(raw)
    except (ValueError, RecursionError):
        log.error("cache value is not JSON; treating it as empty")
        return [], 0
    if not isinstance(items, list):
        log.error("cache value is not a list; treating it as empty")
        return [], 0
    kept = [m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)
            and wire.problem(m) is None]
    return kept, len(items) - len(kept)
