"""Run boards in-process (uvicorn in a thread, real HTTP on loopback) for the board's tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import httpx
import pytest
import uvicorn

from botcluster.board.app import create_app
from botcluster.board.settings import BoardSettings, FaultSettings
from botcluster.board.state import BoardState
from tests.support.procs import LOOPBACK, free_port


@dataclass
class RunningBoard:
    url: str
    state: BoardState
    client: httpx.Client

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.client.post(self.url + path, json=json, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(self.url + path, **kw)


class _Thread(threading.Thread):
    def __init__(self, server: uvicorn.Server) -> None:
        super().__init__(daemon=True)
        self.server = server

    def run(self) -> None:
        asyncio.run(self.server.serve())


@pytest.fixture
def make_board(tmp_path: Path) -> Iterator[Callable[..., RunningBoard]]:
    """`make_board(**settings)` -> a board serving on a free loopback port until the test ends."""
    threads: list[_Thread] = []
    clients: list[httpx.Client] = []

    def make(faults: FaultSettings | None = None, entities: dict[str, str] | None = None,
             **kw: Any) -> RunningBoard:
        port = free_port()
        kw.setdefault("db_path", tmp_path / f"board-{port}.sqlite3")
        settings = BoardSettings(host=LOOPBACK, port=port, faults=faults or FaultSettings(),
                                 entities=MappingProxyType(entities or {}), **kw)
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning",
                                               lifespan="on"))
        thread = _Thread(server)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("board thread died at start")
            threading.Event().wait(0.02)
        threads.append(thread)
        client = httpx.Client(timeout=10.0)
        clients.append(client)
        return RunningBoard(f"http://{LOOPBACK}:{port}", app.state.board, client)

    yield make
    for client in clients:
        client.close()
    for thread in threads:
        thread.server.should_exit = True
        thread.join(10)


@pytest.fixture
def board(make_board: Callable[..., RunningBoard]) -> RunningBoard:
    return make_board(entities={"ei": "EmotionalGuide"}, seed=1)


def human(text: str = "hello", entity: str | None = "ei", **extra: Any) -> dict[str, Any]:
    """A message as the site's frontend posts it (exempt from the rate limit)."""
    body: dict[str, Any] = {"text": text, "username": "Human", "domain": "saywhatwant.app",
                            "message-type": "human", **extra}
    if entity:
        body["botParams"] = {"entity": entity, **body.pop("botParams", {})}
    return body
