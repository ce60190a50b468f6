"""Board-only endpoints: fault switches and the entity list for the page (guard.py: who may)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botcluster.board.posting import board_of
from botcluster.board.responses import BadRequest, json_object, json_response

log = logging.getLogger(__name__)

async def get_faults(request: Request) -> Response:
    return json_response(board_of(request).faults.as_dict())


async def set_faults(request: Request) -> Response:
    """Apply a partial change, e.g. {"cache_race": true, "race_pause_ms": 5}; answer the result."""
    board = board_of(request)
    body = await json_object(request)
    try:
        board.faults.update(body)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    log.warning("board faults changed: %s", board.faults.as_dict())
    return json_response(board.faults.as_dict())


async def entities(request: Request) -> Response:
    """The entities the page offers, from `--entity ID=USERNAME`, in the order given."""
    board = board_of(request)
    return json_response([{"id": k, "username": v} for k, v in board.settings.entities.items()])


ROUTES = [
    Route("/api/admin/faults", get_faults, methods=["GET"]),
    Route("/api/admin/faults", set_faults, methods=["POST"]),
    Route("/api/board/entities", entities, methods=["GET"]),
]
