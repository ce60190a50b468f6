"""The site's POST rate limit: 10 per client IP per sliding 60 seconds."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from botcluster.board.settings import RATE_LIMIT_POSTS, RATE_LIMIT_WINDOW_S


class SlidingWindowLimiter:
    """Counts allowed requests per key over the last `window_s` seconds of `monotonic`."""

    def __init__(self, monotonic: Callable[[], float], limit: int = RATE_LIMIT_POSTS,
                 window_s: float = RATE_LIMIT_WINDOW_S) -> None:
        self._monotonic = monotonic
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self.refused = 0

    def allow(self, key: str) -> bool:
        """Record and allow one request, or refuse it (a refused request is not counted)."""
        now = self._monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            self.refused += 1
            return False
        hits.append(now)
        self._forget_idle(now)
        return True

    def _forget_idle(self, now: float) -> None:
        # Keeps memory bounded when many addresses post once and never again.
        if len(self._hits) > 10_000:
            for key in [k for k, v in self._hits.items() if not v or now - v[-1] >= self.window_s]:
                del self._hits[key]
