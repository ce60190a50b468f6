"""A one-line progress bar on stderr (no dependency): strategy, bar, replies, simulated time."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int, now_s: Callable[[], float],
                 stream: TextIO | None = None, min_interval_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = max(1, total)
        self.now_s = now_s
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.clock = clock
        self._last = -1e9
        self.enabled = self.stream.isatty() if hasattr(self.stream, "isatty") else False
        self.min_interval_s = min_interval_s or (0.2 if self.enabled else 5.0)

    def step(self) -> None:
        self.done += 1
        if self.clock() - self._last >= self.min_interval_s or self.done == self.total:
            self.draw()

    def draw(self) -> None:
        self._last = self.clock()
        filled = WIDTH * self.done // self.total
        line = (f"{self.label:<12} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                f"{self.done}/{self.total} replied, t={self.now_s():.0f}s simulated")
        # On a terminal the line redraws in place; in a log file each update is a line.
        self.stream.write(("\r" + line) if self.enabled else (line + "\n"))
        self.stream.flush()

    def close(self, note: str = "") -> None:
        self.draw()
        if self.enabled:
            self.stream.write("\n")
        if note:
            self.stream.write(note + "\n")
        self.stream.flush()
