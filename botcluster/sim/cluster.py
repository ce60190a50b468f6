"""SimCluster: every simulated host of a cluster file, in one event loop.

Async use (tests that already run a loop, the CLI):

    cluster = SimCluster.from_file("benchmarks/clusters/example.toml", time_scale=0.01)
    await cluster.start()
    cluster.urls["studio-1"]   # "http://127.0.0.1:PORT"
    await cluster.stop()

Sync use (everything else): `with SimCluster(spec).running() as cluster: ...` runs the loop in a
background thread until the block ends; `cluster.call(coro_fn)` runs a coroutine on that loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from botcluster.errors import BotclusterError
from botcluster.sim.clock import Clock, ScaledClock
from botcluster.sim.server import HostServer
from botcluster.sim.spec import ClusterSpec, load_cluster

log = logging.getLogger(__name__)
T = TypeVar("T")


class SimCluster:
    """The simulated hosts of `spec`. Construct, then `start()` (or use `running()`)."""

    def __init__(self, spec: ClusterSpec, clock: Clock | None = None) -> None:
        self.spec = spec
        self.clock: Clock = clock or ScaledClock(spec.time_scale)
        self.hosts: dict[str, HostServer] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_file(cls, path: str | Path, *, seed: int | None = None,
                  time_scale: float | None = None, clock: Clock | None = None) -> SimCluster:
        """Load a cluster file; `seed` and `time_scale` override the file's values."""
        return cls(load_cluster(path).with_options(seed, time_scale), clock)

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of every host by name (valid once started)."""
        return {name: h.url for name, h in self.hosts.items()}

    def host(self, name: str) -> HostServer:
        return self.hosts[name]

    async def start(self) -> None:
        """Create and start every host (construction needs the running loop)."""
        self._loop = asyncio.get_running_loop()
        for spec in self.spec.hosts:
            server = HostServer(spec, self.clock, self.spec.seed)
            self.hosts[spec.name] = server
            await server.start()

    async def stop(self) -> None:
        await asyncio.gather(*(h.stop() for h in self.hosts.values()), return_exceptions=True)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Every host's /sim/stats body, by host name."""
        from botcluster.sim.apps import stats_body

        return {name: stats_body(h) for name, h in self.hosts.items()}

    # --- running in a background thread -------------------------------------------------------

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run `fn()` on the cluster's loop from another thread and return its result."""
        if self._loop is None:
            raise BotclusterError("the simulated cluster is not running")

        async def run() -> T:
            return await fn()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout)

    def set_down(self, name: str, down: bool) -> None:
        """Take host `name` down (connections refused) or bring it back, from any thread."""
        host = self.hosts[name]
        self.call(host.go_down if down else host.come_up)

    @contextlib.contextmanager
    def running(self, timeout: float = 30.0) -> Iterator[SimCluster]:
        """Serve in a background thread for the duration of the block."""
        started = threading.Event()
        stopping: asyncio.Event | None = None
        errors: list[BaseException] = []

        async def main() -> None:
            nonlocal stopping
            stopping = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                errors.append(exc)
                started.set()
                await self.stop()
                return
            started.set()
            await stopping.wait()
            await self.stop()

        thread = threading.Thread(target=asyncio.run, args=(main(),), name="sim-cluster",
                                  daemon=True)
        thread.start()
        if not started.wait(timeout) or errors:
            raise BotclusterError(f"simulated cluster did not start: {errors[:1]}")
        try:
            yield self
        finally:
            assert self._loop is not None and stopping is not None
            self._loop.call_soon_threadsafe(stopping.set)
            thread.join(timeout)
