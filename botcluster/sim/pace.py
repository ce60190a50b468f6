"""The generation speed of one host, which its loads may lower (or stop) while they run.

A prediction's time to first token and its tokens are *work*: seconds at full speed. With no
interference configured, work ends at `start + work` exactly (absolute deadlines, so timer
overshoot does not accumulate). With interference, work advances at `speed()` (1 without a
load; 0 or `1 - load_slowdown` while one runs) and every change of speed re-plans its end.
"""

from __future__ import annotations

import asyncio
import contextlib

from botcluster.sim.clock import Clock


class Pace:
    """Owned by one SimHost, on one event loop."""

    def __init__(self, clock: Clock, blocks: bool = False, slowdown: float = 0.0) -> None:
        self.clock = clock
        self.blocks = blocks
        self.slowdown = slowdown
        self.loads = 0  # loads under way on the host
        self._changed = asyncio.Event()

    @property
    def interferes(self) -> bool:
        return self.blocks or self.slowdown > 0.0

    def speed(self) -> float:
        """Share of full generation speed right now."""
        if self.loads == 0:
            return 1.0
        return 0.0 if self.blocks else 1.0 - self.slowdown

    def load_started(self) -> None:
        self.loads += 1
        self._pulse()

    def load_ended(self) -> None:
        self.loads -= 1
        self._pulse()

    def _pulse(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def work(self, start: float, seconds: float) -> float:
        """Wait until `seconds` of full-speed work begun at simulated time `start` are done;
        returns the simulated time they were (the start of the next piece of work)."""
        if not self.interferes:
            end = start + seconds
            await self.clock.sleep(end - self.clock.now())
            return end
        t, left = start, seconds
        while True:
            speed, changed = self.speed(), self._changed
            if speed > 0.0:
                end = t + left / speed
                if await self._sleep_unless(changed, end - self.clock.now()):
                    return end
            else:
                await changed.wait()
            now = self.clock.now()
            left = max(0.0, left - (now - t) * speed)
            t = now
            if left <= 0.0:
                return now

    async def _sleep_unless(self, changed: asyncio.Event, seconds: float) -> bool:
        """Sleep `seconds`; False as soon as `changed` is set first."""
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waiter = asyncio.ensure_future(changed.wait())
        try:
            done, _ = await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waiter):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        return sleeper in done and waiter not in done
