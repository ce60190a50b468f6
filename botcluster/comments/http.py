"""HTTP to the comments API: a deadline on every attempt, retries with exponential backoff and
jitter, and the translation of httpx errors into botcluster.errors at this one boundary.

4xx answers (other than 429) are returned to the caller, which knows what each means for its
endpoint (409 on claim is `ClaimLost`, 404 on add-to-cache is `False`, ...).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from botcluster import __version__
from botcluster.comments.scan import ListScanner, Scanned
from botcluster.errors import CommentsRejected, CommentsUnavailable

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]
# Errors after which the request certainly did not reach the server: always safe to resend.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Backoff:
    """Retry delays: exponential steps with equal jitter, and a cap on what Retry-After may ask."""

    base_s: float = 0.5
    cap_s: float = 20.0
    retry_after_cap_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        # Half the step fixed, half random: clients spread out, yet none retries at once.
        step = min(self.cap_s, self.base_s * 2**attempt)
        return step / 2 + rng.uniform(0.0, step / 2)


@dataclass(frozen=True)
class Response:
    """A finished exchange. `oversize` means the body passed the size cap and was dropped;
    `ambiguous` means an earlier attempt may have reached the server before this one."""

    status: int
    body: bytes
    headers: httpx.Headers
    oversize: bool = False
    ambiguous: bool = False
    scanned: Scanned | None = None  # a 2xx list answer, cut into items (`scan=True`)

    def detail(self) -> str:
        """The start of the body, printable, for error messages and logs."""
        return self.body[:200].decode("utf-8", errors="replace").strip() or "(empty body)"

    def rejected(self) -> CommentsRejected:
        return CommentsRejected(self.status, self.detail())


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


class Http:
    """One httpx.AsyncClient with the retry policy of the comments API."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None,
                 timeout_s: float, retries: int, sleep: Sleep, rng: random.Random,
                 clock: Callable[[], float] = time.time, backoff: Backoff | None = None,
                 max_body_bytes: int = 16 * 1024 * 1024,
                 max_item_bytes: int = 2 * 1024 * 1024,
                 max_stream_bytes: int = 128 * 1024 * 1024) -> None:
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.backoff = backoff or Backoff()
        self.max_body_bytes = max_body_bytes
        self.max_item_bytes = max_item_bytes
        self.max_stream_bytes = max_stream_bytes
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s,
            headers={"user-agent": f"botcluster/{__version__}"})

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Any = None, headers: Mapping[str, str] | None = None,
                      replay_safe: bool = True, scan: bool = False,
                      once: bool = False) -> Response:
        """Send until the server gives a final answer; raise `CommentsUnavailable` when it never
        does. A request that is not `replay_safe` is resent only when it surely was not applied
        (connection never made, or 429, which the server checks before anything else).

        `scan`: a list answer. A 2xx body is cut into items as it streams in (scan.py), so
        each item is capped on its own (`max_item_bytes`), what is kept is capped
        (`max_body_bytes`), and the whole stream only at `max_stream_bytes`. `once`: a single
        attempt, no retry."""
        # Encoded once, so every retry sends the same bytes, and so the same client-side id.
        content = None if body is None else json.dumps(body).encode()
        ambiguous = False
        retries = 0 if once else self.retries
        for attempt in range(retries + 1):
            wait: float | None = None
            try:
                resp = await self._attempt(method, path, params, content, headers, scan)
            except (httpx.HTTPError, TimeoutError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
                retry_ok = replay_safe or isinstance(exc, _NOT_SENT)
                ambiguous = ambiguous or not isinstance(exc, _NOT_SENT)
            else:
                if resp.status < 500 and resp.status != 429:
                    return Response(resp.status, resp.body, resp.headers, resp.oversize,
                                    ambiguous, resp.scanned)
                failure = f"HTTP {resp.status}: {resp.detail()}"
                retry_ok = replay_safe or resp.status == 429
                ambiguous = ambiguous or resp.status != 429
                wait = parse_retry_after(resp.headers.get("retry-after"), self._clock())
            if not retry_ok or attempt >= retries:
                break
            delay = self.backoff.delay(attempt, self._rng)
            if wait is not None:
                delay = min(wait, self.backoff.retry_after_cap_s)
            log.info("%s %s failed (%s); retry %d/%d in %.2fs", method, path, failure,
                     attempt + 1, retries, delay)
            await self._sleep(delay)
        raise CommentsUnavailable(f"{method} {path}: {failure} (after {attempt + 1} attempts)")

    async def _attempt(self, method: str, path: str, params: Mapping[str, Any] | None,
                       content: bytes | None, extra: Mapping[str, str] | None,
                       scan: bool = False) -> Response:
        headers = dict(extra or {})
        if content is not None:
            headers["content-type"] = "application/json"
        # httpx's timeout is per operation; a server dripping bytes could outlast it, so the
        # whole attempt also gets a deadline.
        async with asyncio.timeout(self.timeout_s * 2):
            async with self._client.stream(method, path, params=params, content=content,
                                           headers=headers) as r:
                if scan and 200 <= r.status_code < 300:
                    return await self._scan(r)
                chunks: list[bytes] = []
                size = 0
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        return Response(r.status_code, b"", r.headers, oversize=True)
                    chunks.append(chunk)
                return Response(r.status_code, b"".join(chunks), r.headers)

    async def _scan(self, r: httpx.Response) -> Response:
        scanner = ListScanner(max_item_bytes=self.max_item_bytes,
                              max_kept_bytes=self.max_body_bytes)
        size = 0
        async for chunk in r.aiter_bytes():
            size += len(chunk)
            if size > self.max_stream_bytes:
                return Response(r.status_code, scanner.head, r.headers, oversize=True)
            if not scanner.feed(chunk):
                break  # not JSON, or too much to keep: the rest cannot change that
        found = scanner.finish()
        return Response(r.status_code, scanner.head, r.headers, oversize=found.oversize,
                        scanned=found)
