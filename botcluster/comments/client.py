"""The comments API client used by the supervisor and the workers.

One object speaks all three dialects (dialect.py): the KV worker with its queue endpoints, the
KV worker without them (legacy: `botParams.processed` plus PATCH), and the later Durable Objects
worker. Every answer is validated item by item (validate.py); every failure leaves this module as
a `botcluster.errors.CommentsError`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from botcluster.comments import dialect as d
from botcluster.comments.http import Backoff, Http, Response, Sleep
from botcluster.comments.message import FailResult, Message, Reply
from botcluster.comments.probe import probe
from botcluster.comments.reader import NOTHING, Listing, Reader, first_of_each
from botcluster.comments.validate import BAD_SHAPE, NOT_JSON, Invalid, SkipLog
from botcluster.config.model import DEFAULT_PRIORITY, MAX_TEXT_CHARS
from botcluster.errors import ClaimLost, CommentsError, CommentsUnavailable

log = logging.getLogger(__name__)


class CommentsClient:
    """Client of one comments API. Construct, then `await detect()` (or let the first call do
    it); close with `aclose()` or use it as an async context manager.

    `transport`, `sleep`, `rng` and `clock` are the seams for tests: an `httpx.MockTransport`,
    a fake sleep that returns at once, a seeded `random.Random`, a fixed clock.
    `max_body_bytes` bounds what one answer may make us keep (the site's whole cache is well
    under 1 MB). A list answer is read item by item as it streams in: an item over
    `max_item_bytes` is skipped alone (`oversize_message`), and a body that cannot be read at
    all (not JSON, not a list, more to keep than `max_body_bytes`, a stream past
    `max_stream_bytes`) raises `MalformedMessage` after counting it: never an empty list.
    """

    def __init__(self, base_url: str, *, dialect: str = d.AUTO,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 10.0,
                 retries: int = 4, sleep: Sleep = asyncio.sleep,
                 rng: random.Random | None = None,
                 on_skip: Callable[[str, str], None] | None = None,
                 clock: Callable[[], float] = time.time, backoff: Backoff | None = None,
                 max_text_chars: int = MAX_TEXT_CHARS,
                 max_body_bytes: int = 16 * 1024 * 1024,
                 max_item_bytes: int = 2 * 1024 * 1024,
                 max_stream_bytes: int = 128 * 1024 * 1024) -> None:
        if dialect not in d.DIALECTS:
            raise ValueError(f"dialect must be one of {', '.join(d.DIALECTS)}, not {dialect!r}")
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an http(s) URL with a host, not {base_url!r}")
        self.dialect = dialect
        self.max_text_chars = max_text_chars
        self._http = Http(base_url, transport=transport, timeout_s=timeout_s, retries=retries,
                          sleep=sleep, rng=rng or random.Random(), clock=clock, backoff=backoff,
                          max_body_bytes=max_body_bytes, max_item_bytes=max_item_bytes,
                          max_stream_bytes=max_stream_bytes)
        self._skips = SkipLog(on_skip)
        self._read = Reader(self._skips, max_text_chars=max_text_chars,
                            max_body_bytes=self._http.max_body_bytes)
        self._detecting = asyncio.Lock()
        # Legacy mode has no server-side claim; claim() answers from the last pending() list.
        self._legacy_seen: dict[str, Message] = {}

    @property
    def skipped(self) -> collections.Counter[str]:
        """Skip reason -> count, over the life of the client."""
        return self._skips.counts

    async def __aenter__(self) -> CommentsClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- dialect -----------------------------------------------------------------------------

    async def detect(self) -> str:
        """Resolve "auto" from the shape of `GET /api/comments?after=0&limit=1` (and, for KV,
        whether `/api/queue/pending` exists). Raises `CommentsUnavailable` when the answers fit
        no dialect. A configured dialect is returned as it is, without a request."""
        async with self._detecting:
            if self.dialect == d.AUTO:
                self.dialect = await probe(self._http, self._read)
                log.info("comments API dialect: %s", self.dialect)
            return self.dialect

    async def _dialect(self) -> str:
        return self.dialect if self.dialect != d.AUTO else await self.detect()

    # --- reading -----------------------------------------------------------------------------

    async def pending(self, limit: int = 50) -> list[Message]:
        """Human messages addressed to an entity that still need a reply, best first.

        Queue dialects: the server's `/api/queue/pending` order (priority, then oldest).
        Legacy: messages of the recent cache whose `botParams.processed` is exactly false,
        sorted the same way. Invalid items are counted in `skipped` and left out.
        """
        return (await self.pending_listing(limit)).messages

    async def pending_listing(self, limit: int = 50) -> Listing:
        """As `pending`, with how many items the server listed in all (valid or not, for an
        entity or not): a window full of items the bot cannot take tells it to look wider."""
        if await self._dialect() == d.KV_LEGACY:
            return await self._legacy_pending(limit)
        resp = await self._get("/api/queue/pending", {"limit": str(limit)}, scan=True)
        listing = self._read.listing(resp, ("pending",), "pending")
        todo = [m for m in first_of_each(listing.messages) if m.needs_reply][:limit]
        return Listing(todo, listing.items, listing.oversize_ids)

    async def _legacy_pending(self, limit: int) -> Listing:
        recent = await self.recent(limit=1000, message_type="human")
        todo = [m for m in recent if m.needs_reply and m.processed is False]
        todo.sort(key=lambda m: (-(m.priority or DEFAULT_PRIORITY), m.timestamp))
        self._legacy_seen = {m.id: m for m in todo}
        return Listing(todo[:limit], len(todo))

    async def recent(self, *, after_ms: int = 0, limit: int = 1000,
                     message_type: str | None = None, dedup: bool = True) -> list[Message]:
        """The server's recent cache, newest first (KV bare array / DO `messages`).

        The KV cache can hold one message twice (a re-POST, a heal); `dedup` keeps the first.
        """
        params = {"after": str(after_ms), "limit": str(limit)}
        if message_type is not None:
            params["type"] = message_type
        resp = await self._get("/api/comments", params, scan=True)
        items = self._read.messages(resp, ("messages", "comments"), "recent")
        return first_of_each(items) if dedup else items

    async def heartbeat(self) -> int | None:
        """ms time of the last POST (KV), or None where the dialect has no heartbeat."""
        if await self._dialect() == d.DO:
            return None
        resp = await self._get("/api/heartbeat", None)
        try:
            return int(resp.body.strip())
        except ValueError:
            self._skips.skip(BAD_SHAPE, "?", f"heartbeat body {resp.detail()!r}", "heartbeat")
            return None

    async def reachable(self) -> bool:
        """Whether the site answers a request that reads no message (`/api/stats`), once and
        without retries: tells a site that is down from a failure of one message's own."""
        try:
            resp = await self._http.request("GET", "/api/stats", once=True)
        except CommentsUnavailable:
            return False
        return resp.status < 400

    async def stats(self) -> dict[str, Any]:
        """The server's `/api/stats` object (KV: `{"cacheSize": n}`)."""
        body = self._read.json(await self._get("/api/stats", None), "stats")
        if not isinstance(body, dict):
            raise self._bad("stats", "stats is not an object")
        return body

    # --- the queue ---------------------------------------------------------------------------

    async def claim(self, message_id: str, worker_id: str) -> Message | None:
        """Take a message for `worker_id`: the server's copy, or None when the claim was granted
        but that copy cannot be read or does not validate (counted; the caller's copy from the
        pending list stands). Raises `ClaimLost` when someone else has it (409 or 404).
        Legacy: no server claim; the message must still be unprocessed.
        """
        if await self._dialect() == d.KV_LEGACY:
            return await self._legacy_claim(message_id)
        resp = await self._http.request(
            "POST", "/api/queue/claim", body={"messageId": message_id, "workerId": worker_id},
            scan=True)
        if resp.status in (404, 409):
            if resp.ambiguous:
                # An earlier attempt may have claimed it for us before the connection broke.
                mine = await self._claimed_by(message_id, worker_id)
                if mine is not None:
                    return mine
            raise ClaimLost(f"{message_id}: HTTP {resp.status} {resp.detail()}")
        if resp.status >= 400:
            raise resp.rejected()
        answer = self._read.fields(resp, "claim")
        if answer.get("success") is not True:
            raise ClaimLost(f"{message_id}: claim not granted: {resp.detail()}")
        raw = answer.get("message")
        if raw is NOTHING:
            self._skips.skip(NOT_JSON, message_id, "claimed message is not JSON", "claim")
            return None
        try:
            return self._read.one(raw, "claim")
        except Invalid:
            return None

    async def _legacy_claim(self, message_id: str) -> Message:
        msg = self._legacy_seen.get(message_id)
        if msg is None:
            found = [m for m in await self.recent(limit=1000, message_type="human")
                     if m.id == message_id]
            msg = found[0] if found else None
        if msg is None or msg.processed is not False:
            raise ClaimLost(f"{message_id}: not an unprocessed message in the recent cache")
        return msg

    async def _claimed_by(self, message_id: str, worker_id: str) -> Message | None:
        for m in await self.recent(limit=1000, message_type="human"):
            if m.id == message_id and m.claimed_by == worker_id:
                log.warning("claim of %s answered %s after a retry, but it is ours",
                            message_id, worker_id)
                return m
        return None

    async def claim_next(self, worker_id: str) -> Message | None:
        """DO only: the server picks and claims the next message; None when there is none."""
        if await self._dialect() != d.DO:
            raise CommentsError(f"claim-next is not in the {self.dialect} dialect")
        resp = await self._http.request("POST", "/api/queue/claim-next",
                                        body={"workerId": worker_id})
        body = self._read.json_ok(resp, "claim-next")
        if not isinstance(body, dict):
            raise self._bad("claim-next", "answer is not an object")
        raw = body.get("message")
        return None if raw is None else self._read.one(raw, "claim-next")

    async def complete(self, message_id: str) -> None:
        """Mark a message answered (legacy: PATCH processed true). A 404 is `CommentsRejected`:
        the caller must not take it for success, nor answer the message again."""
        if await self._dialect() == d.KV_LEGACY:
            path = f"/api/comments/{quote(message_id, safe='')}"
            resp = await self._http.request("PATCH", path,
                                            body={"botParams": {"processed": True}})
            self._legacy_seen.pop(message_id, None)
        else:
            resp = await self._http.request("POST", "/api/queue/complete",
                                            body={"messageId": message_id})
        # Any 2xx is done: the body (the message, or {"success"}) adds nothing.
        if resp.status >= 400:
            raise resp.rejected()

    async def fail(self, message_id: str, error: str) -> FailResult | None:
        """Record a failed attempt (KV queue only; None in the other dialects). The server
        counts attempts, so this is resent only when it surely did not arrive."""
        if await self._dialect() != d.KV:
            return None
        resp = await self._http.request(
            "POST", "/api/queue/fail", body={"messageId": message_id, "error": error[:1000]},
            replay_safe=False)
        body = self._read.json_ok(resp, "fail")
        status = body.get("status") if isinstance(body, dict) else None
        attempts = body.get("attempts") if isinstance(body, dict) else None
        if not isinstance(status, str) or isinstance(attempts, bool) or \
                not isinstance(attempts, int):
            raise self._bad("fail", f"no status/attempts in {resp.detail()!r}", message_id)
        return FailResult(status, attempts)

    # --- writing -----------------------------------------------------------------------------

    async def post(self, reply: Reply) -> None:
        """POST a reply. Retries resend the same id; a DO "duplicate" answer is success (the
        reply is there). The KV server keeps a second cache row per re-POST: `recent` dedups."""
        await self._dialect()
        resp = await self._http.request("POST", "/api/comments", body=reply.to_json())
        if resp.status >= 400:
            raise resp.rejected()
        log.debug("posted %s (reply to %s)", reply.id, reply.reply_to)

    async def add_to_cache(self, message_id: str, admin_token: str | None = None) -> bool:
        """Copy a stored message into the recent cache (the heal). False when the server has no
        such record (404) or the dialect has no add-to-cache (DO, where nothing is lost)."""
        if await self._dialect() == d.DO:
            return False
        headers = {"authorization": f"Bearer {admin_token}"} if admin_token else None
        resp = await self._http.request("POST", "/api/admin/add-to-cache",
                                        body={"messageId": message_id}, headers=headers)
        if resp.status == 404:
            return False
        if resp.status >= 400:
            raise resp.rejected()
        return True

    # --- plumbing ----------------------------------------------------------------------------

    def _bad(self, where: str, detail: str, message_id: str = "?") -> Invalid:
        """A counted `bad_shape` skip, to raise: the answer was JSON but not what was asked."""
        exc = Invalid(BAD_SHAPE, detail, message_id)
        self._skips.skip_invalid(exc, where)
        return exc

    async def _get(self, path: str, params: dict[str, str] | None,
                   scan: bool = False) -> Response:
        await self._dialect()
        resp = await self._http.request("GET", path, params=params, scan=scan)
        if resp.status >= 400:
            raise resp.rejected()
        return resp

