"""The worker pool: spawn, reap, replace with backoff, stop stuck workers (gunicorn's arbiter).

The supervisor learns of a death from the process sentinel (a file descriptor that becomes
readable when the process exits), never from a timeout; it then returns the dead worker's
leases to the queue at once and calls `mark_process_dead` so its live gauges disappear.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess

from botcluster.core.worker import EXIT_BOOT_FAILED, WorkerArgs, worker_main
from botcluster.errors import BotclusterError

log = logging.getLogger(__name__)

MAX_RESTART_BACKOFF_S = 30.0
BOOT_GRACE_S = 10.0  # a worker that dies sooner than this after start is restarted slowly
MAX_BOOT_FAILURES = 5  # workers in a row that died before their first heartbeat: halt


@dataclass
class Slot:
    """A place in the pool; a dead worker is replaced in its slot."""

    index: int
    args: WorkerArgs
    process: BaseProcess | None = None
    started_at: float = 0.0
    restarts: int = 0
    restart_at: float = 0.0
    termed: bool = False  # SIGTERM already sent for being stuck: next time SIGKILL
    boot_failures: int = 0  # deaths in a row of workers that never sent a heartbeat


class BootFailure(BotclusterError):
    """A worker cannot boot: restarting it would only loop (the supervisor halts)."""


class WorkerPool:
    def __init__(self, args: list[WorkerArgs],
                 on_death: Callable[[str, int], None],
                 clock: Callable[[], float] = time.monotonic,
                 target: Callable[[WorkerArgs], None] = worker_main) -> None:
        self.slots = [Slot(i, a) for i, a in enumerate(args)]
        self.target = target
        self.on_death = on_death  # (worker_id, pid): reclaim leases, mark_process_dead
        self.clock = clock
        self.restarts = 0
        self.draining = False  # once set, nothing is replaced any more
        self._ctx = multiprocessing.get_context("spawn")

    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)

    def _spawn(self, slot: Slot) -> None:
        proc = self._ctx.Process(target=self.target, args=(slot.args,),
                                 name=f"botcluster-worker-{slot.index}", daemon=False)
        proc.start()
        slot.process, slot.started_at, slot.termed = proc, self.clock(), False
        log.info("worker %s started (pid %s)", slot.args.worker_id, proc.pid)

    def sentinels(self) -> dict[int, Slot]:
        return {s.process.sentinel: s for s in self.slots if s.process and s.process.is_alive()}

    def alive(self) -> int:
        return sum(1 for s in self.slots if s.process is not None and s.process.is_alive())

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s.process and s.process.pid]

    def reap(self, draining: bool, booted: set[int] | frozenset[int] = frozenset()) -> None:
        """Handle every exited worker; schedule replacements unless draining.

        `booted`: pids of workers that sent a heartbeat. Only a worker that never got that far
        counts toward the halt: one killed from outside while running must not stop the bot.
        """
        self.draining = self.draining or draining
        for slot in self.slots:
            proc = slot.process
            if proc is None or proc.is_alive():
                continue
            proc.join(0)
            code, pid = proc.exitcode, proc.pid or 0
            slot.process = None
            # A worker that leaves cleanly during a drain did what it was asked: not a warning.
            level = logging.INFO if self.draining and code == 0 else logging.WARNING
            log.log(level, "worker %s (pid %d) exited with %s", slot.args.worker_id, pid, code)
            self.on_death(slot.args.worker_id, pid)
            if self.draining:
                continue
            lived = self.clock() - slot.started_at
            slot.boot_failures = 0 if pid in booted else slot.boot_failures + 1
            if code == EXIT_BOOT_FAILED or slot.boot_failures >= MAX_BOOT_FAILURES:
                raise BootFailure(f"worker {slot.args.worker_id} cannot boot (exit {code})")
            slot.restarts = slot.restarts + 1 if lived < BOOT_GRACE_S else 0
            delay = min(MAX_RESTART_BACKOFF_S, 0.5 * (2 ** slot.restarts) if slot.restarts else 0)
            slot.restart_at = self.clock() + delay

    def top_up(self) -> None:
        if self.draining:
            return
        for slot in self.slots:
            if slot.process is None and self.clock() >= slot.restart_at:
                self.restarts += 1
                self._spawn(slot)

    def kill_stuck(self, worker_ids: list[str]) -> None:
        """SIGTERM a worker whose heartbeat stopped; SIGKILL it if it is still there later."""
        for slot in self.slots:
            proc = slot.process
            if proc is None or slot.args.worker_id not in worker_ids or not proc.pid:
                continue
            if not proc.is_alive():
                continue  # already dead: the next reap handles it
            if self.clock() - slot.started_at < BOOT_GRACE_S:
                continue  # still booting: no heartbeat yet is normal
            sig = signal.SIGKILL if slot.termed else signal.SIGTERM
            log.warning("worker %s unresponsive: sending %s", slot.args.worker_id, sig.name)
            # It may die between the check above and the signal: gone is what we wanted.
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
            slot.termed = True

    def stop(self, grace_s: float) -> None:
        """SIGTERM all, wait up to `grace_s`, then SIGKILL the rest."""
        self.draining = True
        for slot in self.slots:
            if slot.process is not None and slot.process.is_alive() and slot.process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.process.pid, signal.SIGTERM)
        deadline = self.clock() + grace_s
        for slot in self.slots:
            if slot.process is not None:
                slot.process.join(max(0.0, deadline - self.clock()))
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(5)


def worker_ids(prefix: str, count: int) -> list[str]:
    """Stable ids: the same bot uses the same ids after a restart (it can find its claims)."""
    return [f"{prefix}-w{i}" for i in range(count)]


def with_index(args: WorkerArgs, index: int, worker_id: str) -> WorkerArgs:
    return replace(args, index=index, worker_id=worker_id)
