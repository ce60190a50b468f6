"""POST /api/comments, the part both dialects share: rate limit, parse, validate, build."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from botcluster.board.messages import Message, build_message, do_id, kv_id, origin_host
from botcluster.board.responses import BadRequest, client_ip, error, read_json
from botcluster.board.settings import EXEMPT_DOMAIN
from botcluster.board.state import BoardState

RATE_LIMITED = "Rate limit exceeded. Please wait a moment before posting again."


def board_of(request: Request) -> BoardState:
    state: BoardState = request.app.state.board
    return state


def exempt(body: object, origin: str | None) -> bool:
    """The site's own domain is not rate-limited, by JSON `domain` or by Origin host."""
    if origin_host(origin) == EXEMPT_DOMAIN:
        return True
    return isinstance(body, dict) and body.get("domain") == EXEMPT_DOMAIN


async def accept_post(request: Request, board: BoardState) -> Message | Response:
    """The message to store, or the response that refuses it (429 before any validation)."""
    body, problem = await read_json(request)
    origin = request.headers.get("origin")
    address = client_ip(request, board.settings.trusted_proxies)
    if not exempt(body, origin) and not board.limiter.allow(address):
        board.counters.rate_limited += 1
        return _too_many()
    if problem is not None:
        raise BadRequest(problem)
    if not isinstance(body, dict):
        body = {}  # the site reads fields off whatever it got; a non-object has no text
    now = board.now_ms()
    new_id = kv_id(now, board.rng) if board.settings.dialect == "kv" else do_id(board.rng)
    try:
        return build_message(body, now_ms=now, origin=origin, new_id=new_id, rng=board.rng)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _too_many() -> Response:
    response = error(429, RATE_LIMITED)
    response.headers["Retry-After"] = "60"
    return response
