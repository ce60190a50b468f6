"""The real board app in-process behind httpx.ASGITransport, with records written straight into
its store: the records anyone could have posted to the real site (4 MB of botParams, numbers
no JSON encoder should write), whatever the board's own POST accepts."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from botcluster.board.app import create_app
from botcluster.board.settings import BoardSettings
from botcluster.board.state import BoardState
from botcluster.board.store import CACHE_KEY
from botcluster.comments import CommentsClient

URL = "http://127.0.0.1:8787"
_seq = itertools.count(1)


@dataclass
class InProcBoard:
    state: BoardState
    transport: httpx.ASGITransport
    dialect: str

    def client(self, **kw: Any) -> CommentsClient:
        kw.setdefault("retries", 0)
        return CommentsClient(URL, dialect=kw.pop("dialect", self.dialect),
                              transport=self.transport, **kw)

    async def store(self, message: dict[str, Any]) -> None:
        """A record as if posted, without the board's own POST checks (KV: cached too).

        A value today's board refuses to store (`Infinity`) is written as an older board
        wrote it: as Python's json module prints it, straight into its tables.
        """
        try:
            await self.state.store.put(message)
        except ValueError:
            await self._store_as_older_boards_did(message)
            return
        if self.dialect == "kv":
            await self.state.cache.append(message)

    async def _store_as_older_boards_did(self, message: dict[str, Any]) -> None:
        raw = json.dumps(message)

        def write(records: Any) -> None:
            conn = records._conn
            conn.execute("INSERT OR REPLACE INTO records (id, timestamp, seq, body) "
                         "VALUES (?, ?, ?, ?)", (message["id"], message["timestamp"],
                                                 records._store.seq + 1, raw))
            if self.dialect == "kv":
                cached = records.get_value(CACHE_KEY) or "[]"
                records.put_value(CACHE_KEY, cached[:-1] + ("," if cached != "[]" else "")
                                  + raw + "]")
        await self.state.store.atomic(write)


@contextlib.asynccontextmanager
async def board(tmp: Path, dialect: str = "kv") -> AsyncIterator[InProcBoard]:
    settings = BoardSettings(db_path=tmp / f"board-{dialect}-{next(_seq)}.sqlite3",
                             dialect=dialect)  # type: ignore[arg-type]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # A 500 reaches the client as a 500, as it would over a socket.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        yield InProcBoard(app.state.board, transport, dialect)


def pending_human(n: int, entity: str = "e1", **bot: Any) -> dict[str, Any]:
    """A stored pending human message; a higher `n` is newer."""
    ts = 1_761_571_000_000 + n
    return {"id": f"{ts}-m{n:06d}", "text": f"question {n}", "timestamp": ts,
            "username": "Human", "color": "080195229", "domain": "saywhatwant.app",
            "language": "en", "message-type": "human", "misc": "",
            "botParams": {"entity": entity, "priority": 50, "processed": False,
                          "status": "pending", "claimedBy": None, "claimedAt": None,
                          "attempts": 0, **bot}}
