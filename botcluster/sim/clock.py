"""Simulated time. Every simulator duration is in simulated seconds; a clock maps it to real time.

`ScaledClock(time_scale)` runs simulated time `1 / time_scale` times faster than real time, so a
time scale of 0.01 turns an hour of simulated traffic into 36 real seconds. Tests may inject any
object with the same two methods.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

MIN_REAL_SLEEP_S = 0.0005


class Clock(Protocol):
    """What the simulator needs from time."""

    def now(self) -> float:
        """Simulated seconds since an arbitrary origin (monotonic)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of simulated time."""


class ScaledClock:
    """Simulated time = real monotonic time / `time_scale`."""

    def __init__(self, time_scale: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> float:
        return (self._monotonic() - self._origin) / self.time_scale

    def real(self, seconds: float) -> float:
        """Real seconds for `seconds` of simulated time."""
        return seconds * self.time_scale

    async def sleep(self, seconds: float) -> None:
        real = seconds * self.time_scale
        # Event loop timers are coarse (uvloop rounds up to a millisecond): a very short wait
        # only yields. Callers sleep to absolute deadlines, so the error does not accumulate.
        await asyncio.sleep(real if real > MIN_REAL_SLEEP_S else 0)
