"""The board's run-time state, built once per app from its frozen settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from botcluster.board.cache import RecentCache
from botcluster.board.ratelimit import SlidingWindowLimiter
from botcluster.board.settings import BoardSettings, Faults
from botcluster.board.store import HEARTBEAT_KEY, Store

log = logging.getLogger(__name__)


@dataclass
class Counters:
    """Board-only counters, served under "board" in `/api/stats`."""

    posts: int = 0
    duplicate_posts: int = 0
    patches: int = 0
    claims: int = 0
    claim_conflicts: int = 0
    completes: int = 0
    fails: int = 0
    heals: int = 0
    rate_limited: int = 0
    injected_errors: int = 0


class BoardState:
    """Store, cache, faults, limiter, clock and RNG of one running board."""

    def __init__(self, settings: BoardSettings) -> None:
        self.settings = settings
        self.faults = Faults(settings.faults)
        self.store = Store(settings.db_path)
        self.cache = RecentCache(self.store, self.faults, settings.monotonic)
        self.limiter = SlidingWindowLimiter(settings.monotonic)
        self.rng = settings.make_rng()
        self.counters = Counters()
        self.last_post_ms = 0

    def now_ms(self) -> int:
        return int(self.settings.clock_ms())

    async def start(self) -> None:
        await self.store.open()
        raw = await self.store.get_value(HEARTBEAT_KEY)
        self.last_post_ms = int(raw) if raw and raw.isdigit() else 0
        if not self.settings.admin_token:
            log.warning("board admin endpoints (/api/admin/*) are open: no admin token set "
                        "(--admin-token or BOTCLUSTER_BOARD_TOKEN); the site's are open too")

    async def stop(self) -> None:
        await self.store.close()

    def stats(self) -> dict[str, object]:
        c = self.counters
        cache = self.cache.counters
        return {
            "dialect": self.settings.dialect,
            "posts": c.posts, "duplicatePosts": c.duplicate_posts, "patches": c.patches,
            "claims": c.claims, "claimConflicts": c.claim_conflicts,
            "completes": c.completes, "fails": c.fails, "heals": c.heals,
            "rateLimited": c.rate_limited, "injectedErrors": c.injected_errors,
            "cacheWrites": cache.writes, "overlappingCacheWrites": cache.overlapping_writes,
            "failedCacheWrites": cache.failed_writes, "staleReads": cache.stale_reads,
            "unservableSkipped": self.store.unservable + cache.unservable,
            "faults": self.faults.as_dict(),
        }
