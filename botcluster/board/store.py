"""Durable storage of the board: one SQLite file in WAL mode with synchronous=FULL.

Two tables mirror the site's two kinds of KV keys: `records` (one row per `comment:{id}`, the
truth) and `kv` (single values, among them `recent:comments`, the cache as ONE JSON array).
Every write commits before its coroutine returns, so a 200 sent after awaiting it survives
`kill -9`.

All SQLite work runs on one dedicated thread: the event loop stays free during fsync, and each
`atomic` call is one transaction that no other call can interleave with, which is what the DO
dialect's claims rely on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from botcluster.board import wire
from botcluster.board.messages import is_key
from botcluster.errors import BotclusterError

log = logging.getLogger(__name__)

T = TypeVar("T")
Message = dict[str, Any]

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    timestamp REAL NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_timestamp ON records (timestamp);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

CACHE_KEY = "recent:comments"
HEARTBEAT_KEY = "heartbeat"


class StorageError(BotclusterError):
    """The board's SQLite file could not be opened, read or written."""


def readable(text: str, store: Store) -> Message | None:
    """The stored message, or None (counted, logged once per id) when it cannot be served:
    text that is not JSON, not an object with a string id, or holding values no JSON reader
    carries (a record written before the board checked what it stores)."""
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        message = None
    reason = None if isinstance(message, dict) else "not a JSON object"
    if reason is None and not isinstance(message.get("id"), str):
        reason = "no string id"
    reason = reason or wire.problem(message)
    if reason is None:
        return dict(message)
    store.unservable += 1
    key = str(message.get("id")) if isinstance(message, dict) else text[:40]
    if key not in store.unservable_ids and len(store.unservable_ids) < 10_000:
        store.unservable_ids.add(key)
        log.warning("stored record %r cannot be served (%s); skipped on every read", key, reason)
    return None


class Records:
    """Synchronous access inside one transaction, on the store's thread only."""

    def __init__(self, conn: sqlite3.Connection, store: Store) -> None:
        self._conn = conn
        self._store = store

    def get(self, message_id: str) -> Message | None:
        if not is_key(message_id):
            return None  # SQLite text is UTF-8: never stored, POST refuses such ids
        row = self._conn.execute("SELECT body FROM records WHERE id = ?",
                                 (message_id,)).fetchone()
        return None if row is None else readable(row[0], self._store)

    def get_many(self, ids: Sequence[str]) -> dict[str, Message]:
        found: dict[str, Message] = {}
        unique = [i for i in dict.fromkeys(ids) if is_key(i)]
        for start in range(0, len(unique), 500):  # stay under SQLite's parameter limit
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for (body,) in self._conn.execute(
                    f"SELECT body FROM records WHERE id IN ({marks})", chunk):
                message = readable(body, self._store)
                if message is not None:
                    found[str(message["id"])] = message
        return found

    def query(self, where_sql: str, *params: Any) -> list[Message]:
        """`SELECT body FROM records <where_sql>` with bound params, in the statement's order."""
        rows = self._conn.execute(f"SELECT body FROM records {where_sql}", params)
        return [m for m in (readable(r[0], self._store) for r in rows) if m is not None]

    def put(self, message: Message) -> None:
        ts = message.get("timestamp")
        number = ts if isinstance(ts, int | float) and not isinstance(ts, bool) else 0
        self._store.seq += 1
        self._conn.execute(
            "INSERT OR REPLACE INTO records (id, timestamp, seq, body) VALUES (?, ?, ?, ?)",
            (message["id"], number, self._store.seq, wire.dumps(message)))

    def count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def get_value(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_value(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))


class Store:
    """The record table and the single-value table, behind async methods.

    Construct, then `await open()`; `await close()` at the end.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seq = 0  # record writes ever committed: the DO dialect's version
        self.unservable = 0  # records skipped on reads because they cannot be served
        self.unservable_ids: set[str] = set()  # those already logged (bounded)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="board-db")
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
        self.seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0])
        self._conn = conn
        log.info("board store %s open (WAL, synchronous=FULL, %d writes so far)",
                 self.path, self.seq)

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def atomic(self, fn: Callable[[Records], T]) -> T:
        """Run `fn` in one committed transaction (rolled back if it raises)."""
        return await self._run(self._atomic, fn)

    def _atomic(self, fn: Callable[[Records], T]) -> T:
        if self._conn is None:
            raise sqlite3.ProgrammingError("store is not open")
        conn = self._conn
        seq = self.seq
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(Records(conn, self))
        except BaseException:
            conn.execute("ROLLBACK")
            self.seq = seq
            raise
        conn.execute("COMMIT")
        return result

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    # --- the common one-step calls ----------------------------------------------------

    async def get(self, message_id: str) -> Message | None:
        return await self.atomic(lambda r: r.get(message_id))

    async def put(self, message: Message, heartbeat_ms: int | None = None) -> None:
        """Write (or overwrite) a record, and the heartbeat with it, in one transaction."""
        def write(r: Records) -> None:
            r.put(message)
            if heartbeat_ms is not None:
                r.put_value(HEARTBEAT_KEY, str(heartbeat_ms))
        await self.atomic(write)

    async def get_value(self, key: str) -> str | None:
        return await self.atomic(lambda r: r.get_value(key))

    async def put_value(self, key: str, value: str) -> None:
        await self.atomic(lambda r: r.put_value(key, value))

    async def count(self) -> int:
        return await self.atomic(lambda r: r.count())
