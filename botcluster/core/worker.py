"""A worker process: claims jobs from the dispatcher and runs several at once on uvloop.

Started by the supervisor with the spawn method. It gets the supervisor's validated config (a
replacement worker must not pick up an edit made to the file since start), connects to the
manager, and runs
`jobs` claim loops plus a heartbeat that keeps its leases alive. SIGTERM stops claiming, lets
the running jobs finish, and exits 0; the supervisor escalates to SIGKILL if that takes too long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botcluster.config.model import Config, LogFormat
from botcluster.core.manager import ManagerAddress

log = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
CLAIM_WAIT_S = 1.0
EXECUTOR_SPARE = 8  # threads beyond one per claim loop: heartbeat, journal, name lookups
EXIT_BOOT_FAILED = 3  # the supervisor halts instead of restarting a worker that cannot boot


def thread_pool(jobs_per_worker: int) -> ThreadPoolExecutor:
    """The worker loop's default executor: a thread per claim loop, and spares.

    Each claim loop parks a thread in the manager call for up to CLAIM_WAIT_S; every other
    dispatcher call and every journal write (aiofiles) also runs in the default executor. With
    asyncio's default size, min(32, CPUs + 4), more claim loops than threads left acks, notes
    and journal writes queued behind parked claims: with 40 jobs per worker on 2 CPUs a
    4-token reply took 58 s (botcluster bench, large cluster).
    """
    return ThreadPoolExecutor(max_workers=jobs_per_worker + EXECUTOR_SPARE,
                              thread_name_prefix="worker-io")


@dataclass(frozen=True)
class WorkerArgs:
    index: int
    worker_id: str
    config: Config  # the supervisor's, as validated at start: never re-read from disk
    manager: ManagerAddress
    log_level: str = "INFO"
    log_format: LogFormat = "text"
    secrets: dict[str, str] = field(default_factory=dict)  # env name -> value, never logged


def worker_main(args: WorkerArgs) -> None:
    """Process entry point (must stay importable at module level for spawn)."""
    from botcluster.logs import register_secret, setup_logging

    setup_logging(args.log_level, args.log_format)
    for value in args.secrets.values():
        register_secret(value)
    try:
        import uvloop

        worker = Worker(args, args.config)
    except Exception:
        log.exception("worker %s cannot boot", args.worker_id)
        raise SystemExit(EXIT_BOOT_FAILED) from None
    uvloop.run(worker.run())


class Worker:
    def __init__(self, args: WorkerArgs, config: Any) -> None:
        self.args = args
        self.config = config
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        from botcluster.comments import CommentsClient
        from botcluster.core.job_runner import JobRunner, RunnerDeps
        from botcluster.core.journal import Journal
        from botcluster.core.link import DispatcherLink
        from botcluster.hosts.adapters import Timeouts, adapter_for

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        bot = self.config.bot
        loop.set_default_executor(thread_pool(bot.jobs_per_worker))
        link = DispatcherLink(await asyncio.to_thread(self.args.manager.connect))
        timeouts = Timeouts(connect_s=bot.connect_timeout_s,
                            first_token_s=bot.generation_timeout_s,
                            total_s=bot.generation_timeout_s * 2)
        adapters = {h.name: adapter_for(h, api_key=self.args.secrets.get(h.api_key_env or ""),
                                        timeouts=timeouts) for h in self.config.hosts}
        client = CommentsClient(self.config.api_url, dialect=bot.dialect)
        journal = Journal(bot.journal_path)
        admin_token = self.args.secrets.get(self.config.board.admin_token_env or "")
        runner = JobRunner(RunnerDeps(config=self.config, link=link, client=client,
                                      adapters=adapters, journal=journal,
                                      server_worker_id=self.args.worker_id,
                                      admin_token=admin_token))
        log.info("worker %s ready (pid %d, %d jobs at once)", self.args.worker_id,
                 os.getpid(), bot.jobs_per_worker)
        try:
            beat = asyncio.create_task(self._heartbeat(link))
            await asyncio.gather(*(self._claim_loop(link, runner)
                                   for _ in range(bot.jobs_per_worker)))
            beat.cancel()
        finally:
            await journal.aclose()
            await client.aclose()
            for a in adapters.values():
                await a.aclose()
        log.info("worker %s stopped", self.args.worker_id)

    async def _claim_loop(self, link: Any, runner: Any) -> None:
        while not self.stopping.is_set():
            try:
                claim = await link.claim(self.args.worker_id, CLAIM_WAIT_S, os.getpid())
            except (EOFError, OSError) as exc:
                # The manager is gone: the supervisor halts or is already stopping; the
                # leases died with the manager and the journal has what matters.
                log.error("worker %s lost the manager (%s); stopping", self.args.worker_id,
                          type(exc).__name__)
                self.stopping.set()
                return
            if claim is not None:
                await runner.run(claim)

    async def _heartbeat(self, link: Any) -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat only shortens a lease
                await link.heartbeat(self.args.worker_id, os.getpid())
            await asyncio.sleep(HEARTBEAT_S)
