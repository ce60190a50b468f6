"""Small HTTP helpers shared by the board's routes: JSON in and out, errors, client identity."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from botcluster.board import wire
from botcluster.board.messages import js_int


class BadRequest(Exception):
    """Raised inside a handler to answer 400 `{"error": ...}` (caught by the app)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class BoardJSONResponse(JSONResponse):
    """UTF-8 JSON; strings with lone surrogates (which JSON allows) are sent as escapes."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    return BoardJSONResponse(payload, status_code=status, headers=headers)


def error(status: int, message: str, **extra: Any) -> Response:
    return BoardJSONResponse({"error": message, **extra}, status_code=status)


def queue_error(status: int, message: str) -> Response:
    """The queue endpoints answer errors as `{"success": false, "error": ...}`."""
    return BoardJSONResponse({"success": False, "error": message}, status_code=status)


def not_found() -> Response:
    return PlainTextResponse("Not found", status_code=404)


async def read_json(request: Request) -> tuple[Any, str | None]:
    """(parsed body, None), or (None, why) for a body that is not JSON the board can keep
    (not JSON, a non-finite number, an integer beyond 2^53-1, nested too deep)."""
    raw = await request.body()
    try:
        return wire.loads(raw), None
    except wire.UnsafeJSON as exc:
        return None, str(exc)


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest."""
    body, problem = await read_json(request)
    if problem is not None:
        raise BadRequest(problem)
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    return body


def required_str(body: dict[str, Any], *names: str) -> list[str]:
    """The named fields as non-empty strings, or BadRequest naming them all."""
    values = [body.get(n) for n in names]
    if not all(isinstance(v, str) and v for v in values):
        raise BadRequest(" and ".join(names) + " required")
    return [str(v) for v in values]


def client_ip(request: Request, trusted_proxies: Collection[str] = ()) -> str:
    """The address the rate limit counts: the socket peer, or the `CF-Connecting-IP` it set
    when the peer is one of `trusted_proxies` (anyone else can write any header)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("cf-connecting-ip")
    if forwarded and forwarded.strip() and peer in trusted_proxies:
        return forwarded.strip()[:64]
    return peer


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer query parameter, parsed like `parseInt`, capped at `maximum`."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    value = js_int(raw)
    if value is None or not 0 <= value <= wire.MAX_SAFE_INTEGER:
        raise BadRequest(f"{name} must be an integer from 0 to 2^53-1")
    return min(value, maximum) if maximum is not None else value


def cursor_param(raw: str, name: str = "after") -> int | None:
    """A time cursor (`after`, `since`) parsed like `parseInt`: None where JavaScript gives
    NaN; BadRequest beyond +-(2^53-1), where no timestamp can be."""
    value = js_int(raw)
    if value is not None and abs(value) > wire.MAX_SAFE_INTEGER:
        raise BadRequest(f"{name} must be a time in ms, at most 2^53-1")
    return value
