"""The real embedded board in the test's own event loop: the app object behind an ASGI
transport, its store opened and closed as its lifespan would. No port, no process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from botcluster.board.app import create_app
from botcluster.board.settings import BoardDialect, BoardSettings, FaultSettings
from botcluster.board.state import BoardState
from botcluster.comments import CommentsClient

BASE = "http://127.0.0.1:8787"  # a loopback name: the admin endpoints answer it


@dataclass
class InBoard:
    state: BoardState
    http: httpx.AsyncClient  # raw requests, as a person or another bot would send them
    transport: httpx.ASGITransport
    dialect: BoardDialect

    def client(self, **kw: Any) -> CommentsClient:
        """The bot's client on this board (close it with `aclose`)."""
        kw.setdefault("dialect", self.dialect)
        return CommentsClient(BASE, transport=self.transport, **kw)

    async def human(self, mid: str, entity: str = "e1", ts_ms: int | None = None,
                    text: str = "hello") -> None:
        body = {"id": mid, "text": text, "timestamp": ts_ms if ts_ms is not None else 1,
                "username": "Human", "color": "080195229", "domain": "saywhatwant.app",
                "message-type": "human", "botParams": {"entity": entity}}
        (await self.http.post("/api/comments", json=body)).raise_for_status()

    async def claim(self, mid: str, worker_id: str) -> int:
        resp = await self.http.post("/api/queue/claim",
                                    json={"messageId": mid, "workerId": worker_id})
        return resp.status_code

    async def record(self, mid: str) -> dict[str, Any]:
        """The stored record (the truth, not the cache)."""
        found = await self.state.store.get(mid)
        assert found is not None, f"no record {mid}"
        return dict(found)


@contextlib.asynccontextmanager
async def in_board(tmp: Path, dialect: BoardDialect = "kv",
                   faults: FaultSettings | None = None) -> AsyncIterator[InBoard]:
    settings = BoardSettings(db_path=tmp / f"board-{dialect}.sqlite3", dialect=dialect,
                             faults=faults or FaultSettings(), seed=1)
    app = create_app(settings)
    state: BoardState = app.state.board
    await state.start()
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield InBoard(state=state, http=http, transport=transport, dialect=dialect)
    finally:
        await state.stop()
