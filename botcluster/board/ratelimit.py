"""The site's POST rate limit: 10 per client IP per sliding 60 seconds."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

from botcluster.board.settings import RATE_LIMIT_POSTS, RATE_LIMIT_WINDOW_S


class SlidingWindowLimiter:
    """Counts allowed requests per key over the last `window_s` seconds of `monotonic`.

    Keys are kept in the order they were last seen, so the idle ones are at the front: each
    call drops the front keys whose every hit has left the window and stops at the first that
    has not. Every key is dropped at most once per time it was added, so a call costs O(1)
    amortised however many addresses post, and memory holds only the keys of the last window.
    """

    def __init__(self, monotonic: Callable[[], float], limit: int = RATE_LIMIT_POSTS,
                 window_s: float = RATE_LIMIT_WINDOW_S) -> None:
        self._monotonic = monotonic
        self.limit = limit
        self.window_s = window_s
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()  # least recently seen first
        self.refused = 0

    def __len__(self) -> int:
        """Keys tracked now."""
        return len(self._hits)

    def allow(self, key: str) -> bool:
        """Record and allow one request, or refuse it (a refused request is not counted)."""
        now = self._monotonic()
        self._forget_idle(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            self.refused += 1
            return False
        hits.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and now - hits[-1] < self.window_s:
                return
            del self._hits[key]
