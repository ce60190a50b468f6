"""One simulated host on the network: its engine, its faults, and its own listening socket.

We drive uvicorn's HTTP protocol directly on an asyncio server we own, rather than through
`uvicorn.Server`, so that a host can really go down (the listening socket is closed, so clients
get "connection refused", and open connections are aborted) and come back on the same port,
and so that many hosts share one event loop without one supervisor loop each.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import socket
from collections import Counter
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from botcluster.sim.clock import Clock
from botcluster.sim.engine import SimHost
from botcluster.sim.faults import FaultState
from botcluster.sim.spec import HostSpec

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
TTL_CHECK_REAL_S = 0.1


class _QuietDrops(logging.Filter):
    """uvicorn logs every exception that ends a response; our deliberate drops are not errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        from botcluster.sim.chat import DropConnection

        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DropConnection | asyncio.CancelledError)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class HostServer:
    """A simulated host: construct, `await start()`, and `await stop()` when done."""

    def __init__(self, spec: HostSpec, clock: Clock, seed: int) -> None:
        self.spec = spec
        self.clock = clock
        self.seed = seed
        self.engine = SimHost(spec, clock)
        self.stats = self.engine.stats
        self.faults = FaultState(spec.faults, random.Random(f"{seed}|{spec.name}|faults"))
        self.port = spec.port
        self.up = False
        self._repeats: Counter[str] = Counter()
        self._ids = 0
        self._server: asyncio.Server | None = None
        self._state = ServerState()
        self._tasks: list[asyncio.Task[None]] = []
        self._config = self._uvicorn_config()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _uvicorn_config(self) -> uvicorn.Config:
        from botcluster.sim.apps import build_app

        config = uvicorn.Config(build_app(self), host=LOOPBACK, port=self.port, lifespan="off",
                                log_level="warning", access_log=False, http="h11",
                                timeout_keep_alive=30)
        config.load()
        return config

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def repeat_count(self, body: dict[str, Any]) -> int:
        """How many times this exact request body was seen before (for per-request seeding)."""
        key = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
        self._repeats[key] += 1
        return self._repeats[key]

    async def start(self) -> None:
        """Preload models, listen, and start the TTL and down-schedule tasks."""
        await self.engine.preload()
        await self.come_up()
        self._tasks.append(asyncio.create_task(self._expire_loop()))
        if self.spec.faults.down_after_s is not None:
            self._tasks.append(asyncio.create_task(self._down_schedule()))

    async def come_up(self) -> None:
        """Listen again (same port). Idempotent."""
        if self.up:
            return
        # proto IPPROTO_TCP, so that asyncio sets TCP_NODELAY on accepted connections (with
        # proto 0 it does not, and Nagle plus delayed ACKs add 40 ms to every response)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((LOOPBACK, self.port))
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config, state = self._config, self._state

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=state, app_state={})

        self._server = await asyncio.get_running_loop().create_server(
            protocol, sock=sock, backlog=2048)
        self.up = True
        log.info("sim host %s listening on %s", self.spec.name, self.url)

    async def go_down(self, *, count: bool = True) -> None:
        """Stop listening (new connections are refused) and abort every open connection."""
        if not self.up or self._server is None:
            return
        self.up = False
        self.stats.downs += 1 if count else 0
        self._server.close()
        for conn in list(self._state.connections):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.abort()
        for task in list(self._state.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._server = None
        log.info("sim host %s is down", self.spec.name)

    async def down_for(self, seconds: float) -> None:
        """Go down now and come back after `seconds` of simulated time."""
        await self.go_down()
        await self.clock.sleep(seconds)
        await self.come_up()

    def schedule_down(self, seconds: float, delay: float = 0.0, real_delay: float = 0.0) -> None:
        """Go down after `delay` (simulated) plus `real_delay` (real) for `seconds`, from a
        background task (so an admin request can be answered before its connection goes)."""

        async def run() -> None:
            await asyncio.sleep(real_delay)
            await self.clock.sleep(delay)
            await self.down_for(seconds)

        self._tasks.append(asyncio.create_task(run()))

    async def _down_schedule(self) -> None:
        f = self.spec.faults
        assert f.down_after_s is not None
        await self.clock.sleep(f.down_after_s)
        while True:
            await self.down_for(f.down_for_s)
            if f.down_every_s is None:
                return
            await self.clock.sleep(max(0.0, f.down_every_s - f.down_for_s))

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(TTL_CHECK_REAL_S)
            self.engine.expire_idle()

    async def stop(self) -> None:
        """Stop everything this host runs."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.go_down(count=False)
