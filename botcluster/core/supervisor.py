"""The supervisor: the main process of `botcluster start`.

Construct with a validated config, then `run()`. It takes the bot's locks, recovers the journal,
starts the embedded board and local hosts when the config asks for them, the manager with the
dispatcher, and the worker pool; then loops: poll the comments API, verify and heal posted
replies, read host state, reap and replace workers, publish metrics. SIGTERM or SIGINT drains
(stop claiming, let running jobs finish up to a grace period, give unfinished server claims
back, flush the journal) and exits 0; a second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from botcluster.config.model import Config
from botcluster.core.runtime import Runtime
from botcluster.errors import BotclusterError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_HALTED = 1
DRAIN_GRACE_S = 4.5  # Ctrl-C must leave nothing behind within 10 s (runtime.shutdown)
HOST_POLL_S = 5.0


class Supervisor:
    def __init__(self, config: Config, runtime: Runtime, *, burst: bool = False,
                 say: Callable[[str], None] = print) -> None:
        self.config = config
        self.rt = runtime
        self.burst = burst
        self.say = say
        self.stop = asyncio.Event()
        self.exit_code = EXIT_OK
        self._signals = 0
        self._wake = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            await self._until_stopped(self.rt.start(self.say))
            if not self.stop.is_set():
                self._watch_sentinels()
                await self._until_stopped(asyncio.gather(
                    self._poll_loop(), self._host_loop(), self._pool_loop()))
        except BotclusterError as exc:
            log.error("halting: %s", exc)
            self.exit_code = EXIT_HALTED
        except (EOFError, ConnectionError) as exc:
            # Every call to the dispatcher goes through the manager's socket.
            log.error("halting: lost the manager process (%s)", type(exc).__name__)
            self.exit_code = EXIT_HALTED
        except Exception:
            # Never a silent exit: click would turn a broken pipe into a bare exit status 1.
            log.exception("halting: unexpected error")
            self.exit_code = EXIT_HALTED
        finally:
            await self.rt.shutdown(drain_grace_s=DRAIN_GRACE_S)
        return self.exit_code

    # --- signals: handlers only record (gunicorn learnt this the hard way) -------------------

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            self.rt.kill_everything()
            os._exit(128 + sig.value)
        self.stop.set()
        self._wake.set()

    async def _until_stopped(self, work: Awaitable[Any]) -> None:
        """Run `work` until it ends or a stop is asked; then cancel it at once.

        A poll hung on a slow API, or a local host still loading, must not hold a Ctrl-C up.
        """
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            stopper.cancel()
            task.result()  # raises what the work raised
            return
        log.info("stopping: draining")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    # --- loops --------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        quiet = 0
        while not self.stop.is_set():
            added = await self.rt.poll_once()
            if self.burst:
                quiet = quiet + 1 if added == 0 and await self.rt.settled() else 0
                if quiet >= 2:
                    log.info("burst done: nothing pending, every reply verified")
                    self.stop.set()
                    break
            await self._sleep(self.config.bot.poll_interval_s)

    async def _host_loop(self) -> None:
        while not self.stop.is_set():
            await self._sleep(HOST_POLL_S)
            if not self.stop.is_set():
                await self.rt.poll_hosts()

    async def _pool_loop(self) -> None:
        while not self.stop.is_set():
            await self._wait_wake(1.0)
            self._wake.clear()
            if self.stop.is_set():
                break
            self.rt.check_manager()
            # Half a lease without a heartbeat: stop it before its leases even expire.
            await self.rt.supervise_pool(max(3.0, self.config.bot.lease_s / 2))
            await self.rt.supervise_local_hosts()
            self._watch_sentinels()
            await self.rt.poll_dirty_hosts()
            await self.rt.publish()

    def _watch_sentinels(self) -> None:
        """Wake the pool loop the moment any worker exits (sentinels are readable fds)."""
        loop = asyncio.get_running_loop()
        for fd in self.rt.pool_sentinels():
            loop.remove_reader(fd)
            loop.add_reader(fd, self._wake.set)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    async def _wait_wake(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)


def run_supervisor(config: Config, runtime: Runtime, burst: bool) -> int:
    import uvloop

    # In JSON the banner is log records too: every line a collector reads must parse.
    say = _say if config.bot.log_format == "text" else (lambda line: log.info("%s", line))
    sup = Supervisor(config, runtime, burst=burst, say=say)
    code: int = uvloop.run(sup.run())
    log.info("exit code %d", code)
    return code


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


__all__ = ["Any", "Supervisor", "run_supervisor"]
