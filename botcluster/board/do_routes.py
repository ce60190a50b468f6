"""The later dialect (CONTRACT.md section 2): one serialized object, atomic claims, no cache.

Every state change is one store transaction on the store's single thread, so two claimers can
never both win, and a POST of a known id is answered "duplicate" without touching the record.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botcluster.board import messages as msgs
from botcluster.board.messages import Message
from botcluster.board.posting import accept_post, board_of
from botcluster.board.responses import (
    cursor_param,
    int_param,
    json_object,
    json_response,
    queue_error,
    required_str,
)
from botcluster.board.store import Records

# CASE guards json_extract: one record that SQLite cannot read as JSON (written by an older
# version) must not fail the whole query; such records are then skipped by the store's reader.
PENDING_SQL = ("WHERE CASE WHEN json_valid(body) THEN json_extract(body, '$.botParams.status')"
               " END = 'pending'")


async def get_messages(request: Request) -> Response:
    """`after` or `since` (ms, default 0): newer messages, newest first, with a version."""
    board = board_of(request)
    params = request.query_params
    cursor = params.get("after") or params.get("since") or "0"
    after = cursor_param(cursor, "after" if params.get("after") else "since")
    limit = int_param(request, "limit", 50, maximum=1000)
    kind = params.get("type") or None
    if after is None:
        found: list[Message] = []
    else:
        sql = "WHERE timestamp > ?"
        args: list[object] = [after]
        if kind:
            sql += (" AND CASE WHEN json_valid(body) THEN"
                    " json_extract(body, '$.\"message-type\"') END = ?")
            args.append(kind)
        sql += " ORDER BY timestamp DESC, seq DESC LIMIT ?"
        args.append(limit)
        found = await board.store.atomic(lambda r: r.query(sql, *args))
    return json_response({"messages": found, "version": str(board.store.seq),
                          "count": len(found)})


async def post_message(request: Request) -> Response:
    """Idempotent by id: a known id is answered "duplicate" and the record is left alone."""
    board = board_of(request)
    accepted = await accept_post(request, board)
    if isinstance(accepted, Response):
        return accepted

    def insert(r: Records) -> Message | None:
        existing = r.get(str(accepted["id"]))
        if existing is None:
            r.put(accepted)
        return existing

    existing = await board.store.atomic(insert)
    if existing is not None:
        board.counters.duplicate_posts += 1
        return json_response({"id": existing["id"], "timestamp": existing.get("timestamp"),
                              "status": "duplicate"})
    board.last_post_ms = board.now_ms()
    board.counters.posts += 1
    return json_response({"id": accepted["id"], "timestamp": accepted["timestamp"],
                          "status": "success"})


async def pending(request: Request) -> Response:
    board = board_of(request)
    limit = int_param(request, "limit", 10)
    found = msgs.queue_order(await board.store.atomic(lambda r: r.query(PENDING_SQL)))
    return json_response({"pending": found[:limit], "total": len(found)})


def _claim(r: Records, message_id: str, worker_id: str, now: int) -> tuple[Message | None, bool]:
    message = r.get(message_id)
    if message is None or msgs.status(message) != "pending":
        return message, False
    message["botParams"].update(status="processing", claimedBy=worker_id, claimedAt=now)
    r.put(message)
    return message, True


async def claim(request: Request) -> Response:
    board = board_of(request)
    message_id, worker_id = required_str(await json_object(request), "messageId", "workerId")
    now = board.now_ms()
    message, won = await board.store.atomic(lambda r: _claim(r, message_id, worker_id, now))
    if message is None:
        return queue_error(404, "Message not found")
    if not won:
        board.counters.claim_conflicts += 1
        shown = msgs.status(message)
        return queue_error(409, f"Message status is {shown or 'undefined'}, not pending")
    board.counters.claims += 1
    return json_response({"success": True, "message": message})


async def claim_next(request: Request) -> Response:
    """Claim the first pending message in queue order, atomically; `message: null` if none."""
    board = board_of(request)
    (worker_id,) = required_str(await json_object(request), "workerId")
    now = board.now_ms()

    def step(r: Records) -> Message | None:
        for candidate in msgs.queue_order(r.query(PENDING_SQL)):
            message, won = _claim(r, str(candidate["id"]), worker_id, now)
            if won:
                return message
        return None

    message = await board.store.atomic(step)
    if message is not None:
        board.counters.claims += 1
    return json_response({"success": True, "message": message})


async def complete(request: Request) -> Response:
    board = board_of(request)
    (message_id,) = required_str(await json_object(request), "messageId")

    def step(r: Records) -> Message | None:
        message = r.get(message_id)
        if message is not None:
            message.setdefault("botParams", {}).update(status="complete", processed=True)
            r.put(message)
        return message

    if await board.store.atomic(step) is None:
        return queue_error(404, "Message not found")
    board.counters.completes += 1
    return json_response({"success": True})


async def stats(request: Request) -> Response:
    board = board_of(request)
    records = await board.store.count()
    return json_response({"cacheSize": records, "board": {**board.stats(), "records": records}})


ROUTES = [
    Route("/api/comments", get_messages, methods=["GET"]),
    Route("/api/comments", post_message, methods=["POST"]),
    Route("/api/queue/pending", pending, methods=["GET"]),
    Route("/api/queue/claim", claim, methods=["POST"]),
    Route("/api/queue/claim-next", claim_next, methods=["POST"]),
    Route("/api/queue/complete", complete, methods=["POST"]),
    Route("/api/stats", stats, methods=["GET"]),
]
