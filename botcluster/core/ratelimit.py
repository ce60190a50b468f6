"""Per-entity posting limits. They say *when* a reply may be posted, never *whether*."""

from __future__ import annotations

from collections import deque

from botcluster.config.model import RateLimits

HOUR_S = 3600.0
MINUTE_S = 60.0


class RateLimiter:
    """Sliding-window limiter for one entity.

    `next_allowed(now)` is the earliest time a new post may be reserved; `reserve(now)` records
    one. Reservations are made when a job is claimed, before the reply is generated, so that
    parallel workers cannot together exceed the limit.
    """

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._posts: deque[float] = deque()

    def next_allowed(self, now: float) -> float:
        self._forget(now)
        posts, lim, t = self._posts, self.limits, now
        if posts and lim.min_seconds_between_posts > 0:
            t = max(t, posts[-1] + lim.min_seconds_between_posts)
        t = max(t, self._window_free(lim.max_posts_per_minute, MINUTE_S))
        t = max(t, self._window_free(lim.max_posts_per_hour, HOUR_S))
        return t

    def reserve(self, at: float) -> None:
        """Record a post at `at` (may be in the future: a permit for a post still to come)."""
        self._posts.append(max(at, self._posts[-1]) if self._posts else at)

    def _window_free(self, limit: int | None, window: float) -> float:
        """Earliest time at which fewer than `limit` posts lie in the last `window` seconds."""
        if not limit or len(self._posts) < limit:
            return 0.0
        # The post that must leave the window before another one fits.
        return self._posts[-limit] + window

    def _forget(self, now: float) -> None:
        while self._posts and self._posts[0] <= now - HOUR_S:
            self._posts.popleft()
