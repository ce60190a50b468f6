"""Small HTTP helpers shared by the board's routes: JSON in and out, errors, client identity."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

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


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def not_found() -> Response:
    return PlainTextResponse("Not found", status_code=404)


async def read_json(request: Request) -> tuple[Any, bool]:
    """(parsed body, ok). ok is False for an unreadable or non-JSON body."""
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_no_constants), True
    except (ValueError, UnicodeDecodeError):
        return None, False


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or BadRequest."""
    body, ok = await read_json(request)
    if not ok:
        raise BadRequest("Invalid JSON body")
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object")
    return body


def required_str(body: dict[str, Any], *names: str) -> list[str]:
    """The named fields as non-empty strings, or BadRequest naming them all."""
    values = [body.get(n) for n in names]
    if not all(isinstance(v, str) and v for v in values):
        raise BadRequest(" and ".join(names) + " required")
    return [str(v) for v in values]


def client_ip(request: Request) -> str:
    """The address the rate limit counts: CF-Connecting-IP when a proxy set it, else the peer."""
    forwarded = request.headers.get("cf-connecting-ip")
    if forwarded:
        return forwarded.strip()
    return request.client.host if request.client else "unknown"


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    """A non-negative integer query parameter, parsed like `parseInt`, capped at `maximum`."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    value = js_int(raw)
    if value is None or value < 0:
        raise BadRequest(f"{name} must be a non-negative integer")
    return min(value, maximum) if maximum is not None else value
