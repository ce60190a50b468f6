"""The real board app served in-process (httpx ASGITransport), for fast tests of many cases."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from botcluster.board.app import create_app
from botcluster.board.settings import BoardSettings
from botcluster.board.state import BoardState

BASE_URL = "http://127.0.0.1:8787"  # what the Host header says; nothing is bound


@dataclass
class Served:
    client: httpx.AsyncClient
    board: BoardState
    app: Starlette

    def transport(self) -> httpx.ASGITransport:
        """Another transport to the same app (for the bot's own client)."""
        return httpx.ASGITransport(self.app)


@contextlib.asynccontextmanager
async def served(db_path: Path, **settings: Any) -> AsyncIterator[Served]:
    """A started board on `db_path` and an httpx client talking to it, until the block ends."""
    app = create_app(BoardSettings(db_path=db_path, **settings))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url=BASE_URL, timeout=30) as client:
        yield Served(client, app.state.board, app)
