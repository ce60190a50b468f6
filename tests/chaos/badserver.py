"""A fake of the real site's bad data: a proxy in front of the board that adds bad items to
`/api/queue/pending` answers and, now and then, answers it with a body that is not JSON.

The board sanitises what it stores, so this is the only way to put such records in front of
the bot. Everything else is passed through unchanged. Loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.procs import LOOPBACK, free_port

NOT_JSON_EVERY = 7  # every 7th pending answer is cut in the middle


def bad_items(now_ms: int) -> list[Any]:
    """One item per kind of bad input; every one must be counted and skipped."""
    base = {"text": "hello", "timestamp": now_ms, "username": "Human", "color": "080195229",
            "domain": "saywhatwant.app", "message-type": "human",
            "botParams": {"entity": "emotional-intelligence", "status": "pending"}}
    missing_text = {**base, "id": "bad-missing-text"}
    del missing_text["text"]
    return [
        missing_text,                                                    # missing_field
        {**base, "id": "bad-wrong-type", "timestamp": "yesterday"},      # wrong_type
        {**base, "id": "bad-huge", "text": "x" * 1_000_000},             # oversize_text
        {**base, "id": "bad-entity", "botParams": {"entity": "nobody-here"}},  # unknown entity
        "not an object",                                                 # not_object
    ]


class BadServer:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.pending_calls = 0
        self.http = httpx.AsyncClient(base_url=upstream, timeout=10)

    async def proxy(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        r = await self.http.request(request.method, path, params=request.query_params,
                                    content=body, headers={"content-type": "application/json"})
        if path == "/api/queue/pending" and r.status_code == 200:
            return self._spoil(r)
        return Response(r.content, status_code=r.status_code,
                        media_type=r.headers.get("content-type"))

    def _spoil(self, r: httpx.Response) -> Response:
        self.pending_calls += 1
        if self.pending_calls % NOT_JSON_EVERY == 0:
            return Response(r.content[: len(r.content) // 2] + b"{{{", status_code=200,
                            media_type="application/json")
        data = r.json()
        data["pending"] = bad_items(int(time.time() * 1000)) + list(data.get("pending", []))
        return Response(json.dumps(data), status_code=200, media_type="application/json")


@contextlib.contextmanager
def bad_server(upstream: str) -> Iterator[str]:
    """Serve the proxy on a free loopback port in a thread; yields its URL."""
    port = free_port()
    app = Starlette(routes=[Route("/{path:path}", BadServer(upstream).proxy,
                                  methods=["GET", "POST", "PATCH"])])
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),), daemon=True)
    thread.start()
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
