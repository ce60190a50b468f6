"""The KV dialect (CONTRACT.md section 1): the site's worker as it behaves, quirks included."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from botcluster.board import messages as msgs
from botcluster.board.messages import Message
from botcluster.board.posting import accept_post, board_of
from botcluster.board.responses import (
    BadRequest,
    cursor_param,
    error,
    int_param,
    json_object,
    json_response,
    queue_error,
    required_str,
)
from botcluster.board.settings import MAX_ATTEMPTS
from botcluster.board.state import BoardState
from botcluster.board.store import Records

log = logging.getLogger(__name__)


async def get_comments(request: Request) -> Response:
    """Cursor mode (`after` present, even 0) or page mode, both from the recent cache only."""
    board = board_of(request)
    params = request.query_params
    kind = params.get("type") or None
    limit = int_param(request, "limit", 50, maximum=1000)
    after_raw = params.get("after")
    if after_raw:
        after = cursor_param(after_raw)
        if after is None:
            return json_response([])  # parseInt gave NaN: nothing is newer than NaN
        items = await board.cache.read_for_get()
        return json_response(msgs.newest_after(items, after, kind, limit))
    offset = int_param(request, "offset", 0)
    items = await board.cache.read_for_get()
    found, more = msgs.page(items, offset=offset, limit=limit,
                            search=params.get("search") or None, kind=kind)
    total = await board.store.count()
    return json_response({"comments": found, "total": total, "hasMore": more})


async def post_comment(request: Request) -> Response:
    """Store the record (committed), then append a copy to the cache. No dedup by id."""
    board = board_of(request)
    accepted = await accept_post(request, board)
    if isinstance(accepted, Response):
        return accepted
    now = board.now_ms()
    await board.store.put(accepted, heartbeat_ms=now)
    board.last_post_ms = now
    board.counters.posts += 1
    await board.cache.append(accepted)
    return json_response(accepted)


def _processed_patch(body: Any) -> bool:
    """The one body PATCH accepts: exactly {"botParams": {"processed": <bool>}}."""
    if not isinstance(body, dict) or set(body) != {"botParams"}:
        raise BadRequest("Invalid update - only botParams.processed can be updated")
    params = body["botParams"]
    if not isinstance(params, dict) or set(params) != {"processed"} \
            or not isinstance(params["processed"], bool):
        raise BadRequest("Invalid update - only botParams.processed can be updated")
    return bool(params["processed"])


async def patch_comment(request: Request) -> Response:
    board = board_of(request)
    processed = _processed_patch(await json_object(request))
    message_id = request.path_params["id"]

    def edit(message: Message) -> bool:
        params = message.get("botParams")
        if not isinstance(params, dict):
            params = message["botParams"] = {}
        params["processed"] = processed
        return True

    message, _ = await _update(board, message_id, edit)
    if message is None:
        return error(404, "Message not found")
    board.counters.patches += 1

    def cached(items: list[Message]) -> list[Message] | None:
        hits = [m for m in items if m.get("id") == message_id]
        for m in hits:  # the site edits only the processed flag of the cached copy
            params = m.get("botParams")
            m["botParams"] = {**(params if isinstance(params, dict) else {}),
                              "processed": processed}
        return items if hits else None

    await board.cache.change(cached)
    return json_response(message)


async def pending(request: Request) -> Response:
    """Pending messages found through the cache, verified against their records."""
    board = board_of(request)
    limit = int_param(request, "limit", 10)
    cached = await board.cache.read_for_get()
    ids = [str(m["id"]) for m in cached
           if isinstance(m.get("botParams"), dict) and m["botParams"].get("entity")]
    records = await board.store.atomic(lambda r: r.get_many(ids))
    found = msgs.queue_order(m for m in records.values() if msgs.status(m) == "pending")
    stale = {i for i, rec in records.items()
             if any(c.get("id") == i and c != rec for c in cached)}
    if stale:
        await board.cache.change(lambda items: [
            records[str(m.get("id"))] if m.get("id") in stale else m for m in items])
    return json_response({"pending": found[:limit], "kvStats": {
        "cacheSize": len(cached), "checked": len(records), "pending": len(found),
        "refreshed": len(stale)}})


async def _update(board: BoardState, message_id: str, edit: Any
                  ) -> tuple[Message | None, Any]:
    def step(r: Records) -> tuple[Message | None, Any]:
        message = r.get(message_id)
        if message is None:
            return None, None
        verdict = edit(message)
        if verdict:
            r.put(message)
        return message, verdict
    return await board.store.atomic(step)


async def claim(request: Request) -> Response:
    board = board_of(request)
    message_id, worker_id = required_str(await json_object(request), "messageId", "workerId")
    now = board.now_ms()
    faults = board.faults.current
    if faults.claim_race:
        # The site reads the record, and writes it back a KV round trip later, unlocked:
        # two claimers that both read "pending" both win.
        message = await board.store.get(message_id)
        won = message is not None and msgs.status(message) == "pending"
        if message is not None and won:
            await asyncio.sleep(faults.race_pause_ms / 1000.0)
            _claimed(message, worker_id, now)
            await board.store.put(message)
    else:
        message, won = await _update(board, message_id,
                                     lambda m: msgs.status(m) == "pending"
                                     and _claimed(m, worker_id, now))
    if message is None:
        return queue_error(404, "Message not found")
    if not won:
        board.counters.claim_conflicts += 1
        shown = msgs.status(message)
        return queue_error(409, f"Message status is {shown or 'undefined'}, not pending")
    board.counters.claims += 1
    await board.cache.replace(message)
    return json_response({"success": True, "message": message})


def _claimed(message: Message, worker_id: str, now: int) -> bool:
    params = message["botParams"]
    params.update(status="processing", claimedBy=worker_id, claimedAt=now)
    return True


async def complete(request: Request) -> Response:
    board = board_of(request)
    (message_id,) = required_str(await json_object(request), "messageId")

    def edit(message: Message) -> bool:
        params = message.setdefault("botParams", {})
        params.update(status="complete", processed=True)
        return True

    message, _ = await _update(board, message_id, edit)
    if message is None:
        return queue_error(404, "Message not found")
    board.counters.completes += 1
    await board.cache.replace(message)
    return json_response({"success": True})


async def fail(request: Request) -> Response:
    board = board_of(request)
    (message_id,) = required_str(await json_object(request), "messageId")

    def edit(message: Message) -> bool:
        params = message.setdefault("botParams", {})
        attempts = params.get("attempts")
        # Held at MAX_ATTEMPTS first: the status comes out the same, and a client-sent count
        # near 2^53 cannot step past what the board serves.
        params["attempts"] = (min(attempts, MAX_ATTEMPTS) if msgs.is_number(attempts) else 0) + 1
        if params["attempts"] >= MAX_ATTEMPTS:
            params["status"] = "failed"
        else:
            params.update(status="pending", claimedBy=None, claimedAt=None)
        return True

    message, _ = await _update(board, message_id, edit)
    if message is None:
        return queue_error(404, "Message not found")
    board.counters.fails += 1
    await board.cache.replace(message)
    params = message["botParams"]
    return json_response({"success": True, "status": params["status"],
                          "attempts": params["attempts"]})


async def add_to_cache(request: Request) -> Response:
    """Append the record to the cache again, no dedup, with the same racy read-modify-write."""
    board = board_of(request)
    (message_id,) = required_str(await json_object(request), "messageId")
    message = await board.store.get(message_id)
    if message is None:
        return queue_error(404, "Message not found")
    board.counters.heals += 1
    await board.cache.append(message)
    return json_response({"success": True, "messageId": message_id})


async def heartbeat(request: Request) -> Response:
    return PlainTextResponse(str(board_of(request).last_post_ms))


async def stats(request: Request) -> Response:
    board = board_of(request)
    cached = await board.cache.read()
    extra = {**board.stats(), "records": await board.store.count()}
    return json_response({"cacheSize": len(cached), "board": extra})


ROUTES = [
    Route("/api/comments", get_comments, methods=["GET"]),
    Route("/api/comments", post_comment, methods=["POST"]),
    Route("/api/comments/{id}", patch_comment, methods=["PATCH"]),
    Route("/api/queue/pending", pending, methods=["GET"]),
    Route("/api/queue/claim", claim, methods=["POST"]),
    Route("/api/queue/complete", complete, methods=["POST"]),
    Route("/api/queue/fail", fail, methods=["POST"]),
    Route("/api/admin/add-to-cache", add_to_cache, methods=["POST"]),
    Route("/api/heartbeat", heartbeat, methods=["GET"]),
    Route("/api/stats", stats, methods=["GET"]),
]
