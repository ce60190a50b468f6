"""One browser tab of the site: post one human message, then heal it until it is visible.

This is what the site's frontend does (and the board's page, botcluster/board/static/app.js):
the id is chosen client-side, a failed POST is resent with the same id, and the tab polls the
recent cache for its own id, calling add-to-cache with a doubling delay (1 s up to 8 s) until a
poll sees it, one heal at a time. Every tab runs on its own; none knows about the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from botcluster.stress.report import SentMessage

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
SITE_DOMAIN = "saywhatwant.app"  # the frontend's domain: exempt from the 10-per-minute limit


@dataclass(frozen=True)
class TabTiming:
    """The frontend's timings (app.js): poll period, first heal delay, heal and POST backoff."""

    poll_s: float = 1.0
    heal_first_s: float = 1.0
    heal_max_s: float = 8.0
    post_retry_first_s: float = 0.5
    post_retry_max_s: float = 10.0


def human_message(mid: str, entity: str, text: str, timestamp_ms: int) -> dict[str, Any]:
    """The body the site's frontend POSTs for a human message to `entity`."""
    return {"id": mid, "text": text, "timestamp": timestamp_ms, "username": "StressTab",
            "color": "080195229", "domain": SITE_DOMAIN, "language": "en",
            "message-type": "human", "misc": "", "botParams": {"entity": entity}}


class Tab:
    """Construct with the message to send, then `await run(stop_at)` (unix seconds)."""

    def __init__(self, http: httpx.AsyncClient, body: dict[str, Any], timing: TabTiming, *,
                 clock: Callable[[], float] = time.time, sleep: Sleep = asyncio.sleep) -> None:
        self.http = http
        self.body = body
        self.timing = timing
        self.clock = clock
        self.sleep = sleep
        self.posted_at: float | None = None
        self.visible_at: float | None = None
        self.heals = 0

    def result(self) -> SentMessage:
        return SentMessage(id=self.body["id"], entity=self.body["botParams"]["entity"],
                           timestamp_ms=self.body["timestamp"], posted_at=self.posted_at,
                           visible_at=self.visible_at, heals=self.heals)

    async def run(self, stop_at: float) -> SentMessage:
        """Post, then watch and heal until visible or `stop_at`. Never raises on HTTP errors."""
        if await self._post(stop_at):
            await self._watch(stop_at)
        return self.result()

    async def _post(self, stop_at: float) -> bool:
        delay = self.timing.post_retry_first_s
        while self.clock() < stop_at:
            try:
                r = await self.http.post("/api/comments", json=self.body)
                if r.is_success:
                    self.posted_at = self.clock()
                    return True
                if r.status_code == 400:
                    log.error("POST of %s rejected: %s", self.body["id"], r.text[:200])
                    return False
                retry_after = r.headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = max(delay, float(retry_after))
            except httpx.HTTPError as exc:
                log.debug("POST of %s failed: %s", self.body["id"], exc)
            await self.sleep(delay)
            delay = min(delay * 2, self.timing.post_retry_max_s)
        return False

    async def _watch(self, stop_at: float) -> None:
        heal_delay = self.timing.heal_first_s
        next_heal = self.clock() + self.timing.poll_s + 0.2  # let one poll see it first
        while self.clock() < stop_at:
            await self.sleep(self.timing.poll_s)
            if await self._visible():
                self.visible_at = self.clock()
                return
            if self.clock() >= next_heal:
                await self._heal()
                heal_delay = min(heal_delay * 2, self.timing.heal_max_s)
                next_heal = self.clock() + heal_delay

    async def _visible(self) -> bool:
        params = {"after": str(self.body["timestamp"] - 1), "limit": "1000", "type": "human"}
        try:
            r = await self.http.get("/api/comments", params=params)
            items = r.json() if r.is_success else []
        except (httpx.HTTPError, ValueError):
            return False
        if isinstance(items, dict):  # the later dialect wraps the list
            items = items.get("messages") or items.get("comments") or []
        own = self.body["id"]
        return isinstance(items, list) and any(
            isinstance(m, dict) and m.get("id") == own for m in items)

    async def _heal(self) -> None:
        self.heals += 1
        try:
            await self.http.post("/api/admin/add-to-cache", json={"messageId": self.body["id"]})
        except httpx.HTTPError as exc:
            log.debug("heal of %s failed: %s", self.body["id"], exc)
