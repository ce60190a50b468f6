"""`create_app(settings)`: the board as an ASGI app, for the CLI, tests and other code.

Layers, outermost first: `EdgeMiddleware` (CORS on everything but the admin paths, OPTIONS 200
on any path, the body size limit, the admin guard, injected latency and errors, a JSON 500
instead of a crash), then the routes of the chosen dialect, the board-only routes and the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botcluster.board import admin, do_routes, guard, kv_routes
from botcluster.board.openapi import openapi_document
from botcluster.board.posting import board_of
from botcluster.board.responses import BadRequest, error, json_response, not_found
from botcluster.board.settings import BoardSettings
from botcluster.board.state import BoardState
from botcluster.board.store import StorageError

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, PATCH, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type, Authorization"),
    (b"access-control-max-age", b"86400"),
]
# Paths of the site's contract: the ones fault injection applies to.
FAULTY_PREFIXES = ("/api/comments", "/api/queue/", "/api/heartbeat", "/api/stats",
                   "/api/admin/add-to-cache")


class BodyTooLarge(Exception):
    """The request body passed `max_body_bytes` while it was read (answered 413)."""


def _limited(receive: Receive, limit: int) -> Receive:
    """`receive`, raising BodyTooLarge once the body read so far passes `limit` bytes."""
    size = 0

    async def read() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge
        return message
    return read


class EdgeMiddleware:
    """What every request passes through, whatever route answers it."""

    def __init__(self, app: ASGIApp, board: BoardState) -> None:
        self.app = app
        self.board = board

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        cors = [] if scope["path"].startswith(guard.ADMIN_PREFIX) else CORS_HEADERS

        async def send_cors(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *cors]
            await send(message)

        receive = _limited(receive, self.board.settings.max_body_bytes)
        try:
            early = await self._early_answer(scope)
            if early is not None:
                await early(scope, receive, send_cors)
            else:
                await self.app(scope, receive, send_cors)
        except BodyTooLarge:
            if not started:
                await _too_large(self.board.settings.max_body_bytes)(scope, receive, send_cors)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await error(500, "Internal error")(scope, receive, send_cors)

    async def _early_answer(self, scope: Scope) -> Response | None:
        """OPTIONS, body size, the admin guard and injected faults, before any route runs."""
        path: str = scope["path"]
        if scope["method"] == "OPTIONS":
            return Response(status_code=200)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.board.settings.max_body_bytes:
            return _too_large(self.board.settings.max_body_bytes)
        if path.startswith(guard.ADMIN_PREFIX):
            refusal = guard.admin_refusal(scope, self.board.settings.admin_token)
            if refusal is not None:
                return refusal
        if path.startswith(FAULTY_PREFIXES):
            return await self._injected_fault()
        return None

    async def _injected_fault(self) -> Response | None:
        faults = self.board.faults.current
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        if faults.error_rate > 0 and self.board.rng.random() < faults.error_rate:
            self.board.counters.injected_errors += 1
            status = self.board.rng.choice((500, 503))
            return error(status, "Injected fault", injected=True)
        return None


def _too_large(limit: int) -> Response:
    return error(413, f"Request body over {limit} bytes")


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return error(400, exc.error, **exc.extra)


async def _storage_error(request: Request, exc: Exception) -> Response:
    log.error("storage error on %s %s: %s", request.method, request.url.path, exc)
    return error(500, "Storage error, please try again")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405 and request.url.path == "/api/comments":
        return PlainTextResponse("Method not allowed", status_code=405)
    return not_found()  # the site answers any other unknown method and path with 404


async def _body_too_large(request: Request, exc: Exception) -> Response:
    return _too_large(board_of(request).settings.max_body_bytes)


def _routes(settings: BoardSettings) -> list[BaseRoute]:
    document = openapi_document(settings.dialect)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html")

    async def openapi(request: Request) -> Response:
        return json_response(document)

    dialect = kv_routes.ROUTES if settings.dialect == "kv" else do_routes.ROUTES
    return [
        *dialect, *admin.ROUTES,
        Route("/", index, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_app(settings: BoardSettings) -> Starlette:
    """The board for `settings`. The store opens in the lifespan startup, closes at shutdown."""
    board = BoardState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await board.start()
        log.info("board ready: dialect %s, db %s, faults %s", settings.dialect,
                 settings.db_path, json.dumps(board.faults.as_dict()))
        try:
            yield
        finally:
            await board.stop()

    app = Starlette(
        routes=_routes(settings),
        exception_handlers={BadRequest: _bad_request, StorageError: _storage_error,
                            HTTPException: _http_error, BodyTooLarge: _body_too_large},
        lifespan=lifespan,
    )
    app.state.board = board
    app.add_middleware(EdgeMiddleware, board=board)
    return app
