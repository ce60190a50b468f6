"""The worker pool's decisions: replace, back off, or halt because a worker cannot boot."""

from __future__ import annotations

import os
import time

import pytest

from botcluster.core.pool import BootFailure, WorkerPool
from botcluster.core.worker import EXIT_BOOT_FAILED, WorkerArgs
from tests.core.helpers import Clock

pytestmark = pytest.mark.timeout(60)


def cannot_boot(args: WorkerArgs) -> None:
    os._exit(EXIT_BOOT_FAILED)


def dies_at_once(args: WorkerArgs) -> None:
    os._exit(1)


def _args(n: int) -> list[WorkerArgs]:
    return [WorkerArgs(index=i, worker_id=f"w{i}", config=None,  # type: ignore[arg-type]
                       manager=None) for i in range(n)]  # type: ignore[arg-type]


def _wait_dead(pool: WorkerPool) -> None:
    deadline = time.monotonic() + 20
    while pool.alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_worker_that_cannot_boot_halts_the_pool() -> None:
    deaths: list[str] = []
    pool = WorkerPool(_args(1), on_death=lambda w, pid: deaths.append(w), target=cannot_boot)
    pool.start()
    _wait_dead(pool)
    with pytest.raises(BootFailure, match="w0 cannot boot"):
        pool.reap(draining=False)
    assert deaths == ["w0"]


def test_a_crash_loop_is_replaced_with_backoff_then_halts() -> None:
    clock = Clock()
    deaths: list[str] = []
    pool = WorkerPool(_args(1), on_death=lambda w, pid: deaths.append(w), clock=clock,
                      target=dies_at_once)
    pool.start()
    delays = []
    with pytest.raises(BootFailure):
        for _ in range(10):
            _wait_dead(pool)
            pool.reap(draining=False)
            delays.append(pool.slots[0].restart_at - clock.now)
            pool.top_up()
            assert pool.slots[0].process is None, "no restart before the backoff"
            clock.advance(delays[-1])
            pool.top_up()
    assert delays == sorted(delays) and delays[0] > 0
    assert len(deaths) == 5


def test_workers_killed_after_booting_never_halt_the_pool() -> None:
    clock = Clock()
    pool = WorkerPool(_args(1), on_death=lambda w, pid: None, clock=clock,
                      target=dies_at_once)
    pool.start()
    for _ in range(8):  # killed from outside again and again, each after its heartbeat
        _wait_dead(pool)
        booted = {pool.slots[0].process.pid} if pool.slots[0].process else set()
        pool.reap(draining=False, booted={p for p in booted if p})
        clock.advance(60)
        pool.top_up()
    assert pool.restarts == 8


def test_a_worker_that_ran_a_while_is_replaced_at_once_in_its_slot() -> None:
    clock = Clock()
    pool = WorkerPool(_args(2), on_death=lambda w, pid: None, clock=clock,
                      target=dies_at_once)
    pool.start()
    clock.advance(60)  # they "lived" a minute
    _wait_dead(pool)
    pool.reap(draining=False)
    assert all(s.restart_at <= clock.now for s in pool.slots)
    pool.top_up()
    assert all(s.process is not None for s in pool.slots) and pool.restarts == 2
    _wait_dead(pool)
    pool.reap(draining=True)  # while draining, nothing is replaced
    pool.top_up()
    assert pool.restarts == 2 and all(s.process is None for s in pool.slots)


def sleeps(args: WorkerArgs) -> None:
    time.sleep(30)


def test_stopping_a_worker_that_just_died_is_not_an_error() -> None:
    clock = Clock()
    pool = WorkerPool(_args(1), on_death=lambda w, pid: None, clock=clock, target=sleeps)
    pool.start()
    clock.advance(60)
    proc = pool.slots[0].process
    assert proc is not None and proc.pid
    os.kill(proc.pid, 9)
    proc.join(10)  # dead and reaped by the OS, not yet by the pool
    pool.kill_stuck(["w0"])
    pool.kill_stuck(["w0"])
    pool.stop(1.0)


def exits_cleanly(args: WorkerArgs) -> None:
    os._exit(0)


def test_a_worker_leaving_cleanly_in_a_drain_is_no_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    pool = WorkerPool(_args(1), on_death=lambda w, pid: None, target=exits_cleanly)
    pool.start()
    _wait_dead(pool)
    with caplog.at_level("INFO", logger="botcluster.core.pool"):
        pool.reap(draining=True)
    exits = [r for r in caplog.records if "exited with 0" in r.getMessage()]
    assert [r.levelname for r in exits] == ["INFO"]


def test_a_worker_dying_outside_a_drain_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    pool = WorkerPool(_args(1), on_death=lambda w, pid: None, target=dies_at_once)
    pool.start()
    _wait_dead(pool)
    with caplog.at_level("INFO", logger="botcluster.core.pool"):
        pool.reap(draining=False)
    exits = [r for r in caplog.records if "exited with 1" in r.getMessage()]
    assert [r.levelname for r in exits] == ["WARNING"]
