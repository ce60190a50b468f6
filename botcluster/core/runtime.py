"""Everything the supervisor runs, in start order, and how each piece stops.

Start: locks -> journal recovery -> board and local hosts -> comments client -> manager and
dispatcher -> host state -> worker pool -> /metrics. Shutdown reverses it. Each method is one
step the supervisor's loops call; none of them blocks the event loop for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client.multiprocess import mark_process_dead

from botcluster import metrics
from botcluster.comments import CommentsClient
from botcluster.config import resolve_secret
from botcluster.config.model import Config, HostConfig
from botcluster.core.children import EmbeddedBoard
from botcluster.core.cluster import HostReport, HostView
from botcluster.core.dispatcher import DispatcherSettings
from botcluster.core.facts import status_facts
from botcluster.core.heal import HealTracker
from botcluster.core.hoststate import describe, poll_hosts
from botcluster.core.job_runner import fail_on_server
from botcluster.core.journal import Journal, compact
from botcluster.core.locks import BotLock
from botcluster.core.manager import ManagerServer
from botcluster.core.metrics_http import serve
from botcluster.core.operator_page import render_page
from botcluster.core.orphans import OrphanSweeper, keep_claims_at_drain
from botcluster.core.poller import Poller
from botcluster.core.pool import WorkerPool
from botcluster.core.ports import Listener, check_ports, in_use
from botcluster.core.publisher import MetricsPublisher
from botcluster.core.readiness import unserved_reason
from botcluster.core.recent import RecentEvents
from botcluster.core.speeds import Speeds
from botcluster.core.worker import WorkerArgs
from botcluster.errors import BotclusterError, PortInUse
from botcluster.hosts.adapters import HostAdapter, Timeouts, adapter_for
from botcluster.hosts.local import LocalHostProcess
from botcluster.hosts.supervise import LocalHostSupervisor
from botcluster.logs import register_secret

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 30.0  # orphaned server claims: see core/orphans.py
CHILD_STOP_S = 2.0  # board and local hosts: SIGTERM, then SIGKILL after this


class ManagerDied(BotclusterError):
    """The manager process died: the queue is gone, so the bot halts (the journal and the
    server let the next start recover)."""


class Runtime:
    def __init__(self, config: Config, lock: BotLock | None = None) -> None:
        self.config = config
        self.lock = lock or BotLock.for_config(config)  # the CLI takes it before anything else
        self.board = EmbeddedBoard(config) if config.embedded_board else None
        self.local_hosts = [LocalHostProcess(h, log_format=config.bot.log_format)
                            for h in config.hosts if h.local is not None]
        self.local_watch = LocalHostSupervisor(self.local_hosts)
        self._recovering: set[str] = set()  # local hosts restarted, not yet seen up
        self.secrets = {h.api_key_env: v for h in config.hosts
                        if h.api_key_env and (v := resolve_secret(h.api_key_env))}
        self.admin_token = resolve_secret(config.board.admin_token_env)
        for value in [*self.secrets.values(), self.admin_token]:
            register_secret(value)  # never in a log line, whatever logs it
        self.journal = Journal.for_supervisor(config)  # bounded, compacted as it grows
        self.manager: ManagerServer | None = None
        self.dispatcher: Any = None
        self.pool: WorkerPool | None = None
        self.client: CommentsClient | None = None
        self.adapters: dict[str, HostAdapter] = {}
        self.poller: Poller | None = None
        self.heal: HealTracker | None = None
        self.publisher = MetricsPublisher(config)
        self.http: Any = None
        self.last_poll_ok = 0.0
        self.orphans: OrphanSweeper | None = None
        self._next_sweep = 0.0  # at start, then every SWEEP_EVERY_S
        self.started_at = time.time()
        self.skips = RecentEvents()  # malformed messages the poller skipped

    # --- start ----------------------------------------------------------------------------

    async def start(self, say: Callable[[str], None]) -> None:
        self.lock.acquire()
        check_ports(self.config)  # a port clash is one line, before anything starts
        state = compact(self.config.bot.journal_path, self.journal.keep_context)
        await asyncio.to_thread(self._start_children)
        bot = self.config.bot
        self.client = CommentsClient(self.config.api_url, dialect=bot.dialect,
                                     on_skip=self._skipped)
        dialect = await self.client.detect()
        self._start_manager()
        await asyncio.to_thread(self.dispatcher.forget, list(state.done))
        self.poller = Poller(self.config, self.client, self.dispatcher, state,
                             writer=self.journal)
        await self.poller.recover()
        self.heal = HealTracker(self.client, self.journal, self.config.heal, self.admin_token)
        self.orphans = OrphanSweeper(self.client, self.dispatcher, bot.worker_id,
                                     bot.generation_timeout_s, adopt=self.poller.adopt)
        self.heal.restore(list(state.posted.values()))
        reports = await self.poll_hosts()
        self._start_pool()
        await self.publish()  # the first scrape shows the pool and the hosts, not zeros
        self._start_http()
        self._banner(say, dialect, reports)

    def _start_children(self) -> None:
        if self.board is not None:
            self.board.start()
        for lh in self.local_hosts:
            lh.start()
        for lh in self.local_hosts:
            lh.wait_ready(timeout_s=120.0)

    def _start_manager(self) -> None:
        hosts = [HostView(name=h.name, slots=h.slots, memory_gb=h.memory_gb,
                          serves=_serves(h), static_loaded=h.kind in
                          ("llamacpp", "openai"), up=False, default_parallel=h.parallel,
                          load_lane=h.load_lane, pinned=frozenset(h.pinned),
                          speeds=Speeds.seeded(h.load_gb_per_s, h.tokens_per_s, h.ttft_s))
                 for h in self.config.hosts]
        bot = self.config.bot
        self.manager = ManagerServer(DispatcherSettings.from_config(self.config), hosts,
                                     dict(self.config.entities), bot.log_level, bot.log_format)
        self.dispatcher = self.manager.start()
        timeouts = Timeouts(connect_s=self.config.bot.connect_timeout_s)
        self.adapters = {h.name: adapter_for(h, api_key=self.secrets.get(h.api_key_env or ""),
                                             timeouts=timeouts) for h in self.config.hosts}

    def _start_pool(self) -> None:
        bot = self.config.bot
        args = [WorkerArgs(index=i, worker_id=f"{bot.worker_id}-w{i}",
                           config=self.config,
                           manager=self.manager.address,  # type: ignore[union-attr]
                           log_level=bot.log_level, log_format=bot.log_format,
                           secrets=self._worker_secrets()) for i in range(bot.workers)]
        self.pool = WorkerPool(args, on_death=self._worker_died)
        self.pool.start()

    def _worker_secrets(self) -> dict[str, str]:
        """Host API keys, and the admin token for the workers' record check (add-to-cache)."""
        env = self.config.board.admin_token_env
        if env and self.admin_token:
            return {**self.secrets, env: self.admin_token}
        return dict(self.secrets)

    def _start_http(self) -> None:
        m = self.config.metrics
        if m.enabled:
            try:
                self.http = serve(m.host, m.port, self.healthy, self.ready, self.status,
                                  page=lambda: render_page(self.status()))
            except OSError as exc:  # taken since check_ports: still one line, naming the key
                raise PortInUse(in_use(Listener("[metrics] port", m.host, m.port),
                                       str(exc))) from exc

    def _banner(self, say: Callable[[str], None], dialect: str, reports: list[Any]) -> None:
        if self.board is not None:
            say(f"board: {self.board.url}/")
        say(f"comments API: {self.config.api_url} ({dialect} dialect)")
        if self.config.metrics.enabled:
            m = self.config.metrics
            say(f"metrics: http://{m.host}:{m.port}/metrics")
        for r in reports:
            say(describe(r, self.config.host(r.host).slots))
        say(f"workers: {self.config.bot.workers} x {self.config.bot.jobs_per_worker} jobs; ready")

    # --- the loops' steps -----------------------------------------------------------------

    async def poll_once(self) -> int:
        assert self.poller is not None and self.heal is not None and self.orphans is not None
        added = await self.poller.poll()
        if added >= 0:
            self.last_poll_ok = self.poller.last_success
        for posted in await asyncio.to_thread(self.dispatcher.take_posted):
            self.heal.track(posted)
        await self.heal.verify()
        await self._fail_crash_dead()
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY_S
            await self.orphans.sweep()
        return added

    async def _fail_crash_dead(self) -> None:
        """Messages that crashed every worker end failed on the server, visible to a person."""
        assert self.client is not None
        for mid in await asyncio.to_thread(self.dispatcher.take_crash_dead):
            if await fail_on_server(self.client, mid, "crashed every worker that took it"):
                await self.journal.append({"e": "done", "m": mid, "o": "dead_lettered"})
            else:
                await asyncio.to_thread(self.dispatcher.unforget, mid)

    async def settled(self) -> bool:
        """Nothing queued or running and every posted reply seen (burst mode's end)."""
        assert self.heal is not None
        idle: bool = await asyncio.to_thread(self.dispatcher.idle)
        return idle and not self.heal.pending

    async def poll_hosts(self) -> list[Any]:
        return await poll_hosts(self.adapters, self.dispatcher)

    async def poll_dirty_hosts(self) -> None:
        """Read again, now, the hosts where something just changed."""
        names = await asyncio.to_thread(self.dispatcher.take_dirty)
        if names:
            await poll_hosts({n: self.adapters[n] for n in names}, self.dispatcher)

    def check_manager(self) -> None:
        proc = self.manager.process if self.manager else None
        if proc is not None and not proc.is_alive():
            raise ManagerDied(f"manager process exited with {proc.exitcode}")

    async def supervise_pool(self, stuck_after_s: float) -> None:
        assert self.pool is not None
        booted = await asyncio.to_thread(self.dispatcher.booted_pids)
        self.pool.reap(draining=False, booted=booted)
        self.pool.top_up()
        stale = await asyncio.to_thread(self.dispatcher.stale_workers, stuck_after_s)
        self.pool.kill_stuck(stale)

    async def supervise_local_hosts(self) -> None:
        """A local host that died is down at once (its jobs go elsewhere or wait), restarted
        with backoff, and read again every second until it answers."""
        for event in self.local_watch.check():
            if event.kind == "died":
                self._recovering.discard(event.host)
                await asyncio.to_thread(self.dispatcher.report_host, HostReport(
                    host=event.host, up=False, error=event.detail))
            elif event.kind == "restarted":
                self._recovering.add(event.host)
        if self._recovering:
            reports = await poll_hosts({n: self.adapters[n] for n in self._recovering},
                                       self.dispatcher)
            self._recovering.difference_update(r.host for r in reports if r.up)

    def pool_sentinels(self) -> list[int]:
        return list(self.pool.sentinels()) if self.pool else []

    async def publish(self) -> None:
        snap = await asyncio.to_thread(self.dispatcher.snapshot)
        self.publisher.publish(snap, self.pool.alive() if self.pool else 0)
        metrics.worker_restarts.inc(0)

    def _worker_died(self, worker_id: str, pid: int) -> None:
        """Called from reap(): leases back to the queue at once; drop its live gauges."""
        with contextlib.suppress(Exception):
            n = self.dispatcher.worker_died(worker_id)
            if n:
                log.warning("worker %s died holding %d lease(s); requeued", worker_id, n)
        if pid:
            mark_process_dead(pid)
        if self.pool is not None:
            metrics.worker_restarts.inc()

    # --- health ---------------------------------------------------------------------------

    def healthy(self) -> tuple[bool, dict[str, Any]]:
        import time

        manager = self.manager.process if self.manager else None
        alive = self.pool.alive() if self.pool else 0
        since = time.time() - self.last_poll_ok if self.last_poll_ok else None
        stale = (self.config.metrics.poll_stale_s
                 or max(30.0, 10 * self.config.bot.poll_interval_s))
        poll_ok = since is not None and since < stale
        ok = bool(manager and manager.is_alive()) and alive > 0 and poll_ok
        return ok, {"workers_alive": alive, "seconds_since_poll": since,
                    "manager_alive": bool(manager and manager.is_alive()),
                    **(self.poller.health() if self.poller else {})}

    def status(self) -> dict[str, Any]:
        """What `/status`, the operator page and `botcluster status` show (core/facts.py)."""
        ready, detail = self.ready()
        return status_facts(self.dispatcher.view(), self.config, started_at=self.started_at,
                            ready=ready, ready_reason=detail.get("reason", ""),
                            heal_pending=len(self.heal.pending) if self.heal else 0,
                            workers_alive=self.pool.alive() if self.pool else 0,
                            recent=self.skips.items())

    def _skipped(self, reason: str, message_id: str) -> None:
        """A message the comments client could not read: counted, and shown to the operator."""
        metrics.skipped_messages.labels(reason).inc()
        self.skips.add(time.time(), "malformed", message_id, reason)

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Healthy, polled at least once, a worker has booted and is claiming, and some host
        can serve some entity; `reason` says what is missing."""
        ok, detail = self.healthy()
        try:
            detail["workers_claiming"] = self.dispatcher.live_workers(5.0)
            unserved = unserved_reason(self.config, self.dispatcher.view()["hosts"])
        except Exception:
            detail["workers_claiming"], unserved = 0, "the dispatcher does not answer"
        reasons = [r for r, bad in (
            ("not healthy", not ok), ("no successful poll yet", not self.last_poll_ok),
            ("no worker is claiming", not detail["workers_claiming"]),
            (unserved or "", unserved is not None)) if bad]
        if reasons:
            detail["reason"] = "; ".join(reasons)
        return not reasons, detail

    # --- stop -----------------------------------------------------------------------------

    async def shutdown(self, drain_grace_s: float) -> None:
        """Drain and stop everything that was started, in reverse order. Never raises."""
        if self.dispatcher is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.dispatcher.drain)
        if self.pool is not None:
            await asyncio.to_thread(self.pool.stop, drain_grace_s)
            self.pool.reap(draining=True)
        await self._keep_claims()
        if self.heal is not None:
            with contextlib.suppress(Exception):
                for posted in await asyncio.to_thread(self.dispatcher.take_posted):
                    self.heal.track(posted)
                await asyncio.wait_for(self.heal.verify(), 1.0)
        await self._close_clients()
        if self.http is not None:
            self.http.shutdown()
        if self.manager is not None:
            self.manager.stop()
        await asyncio.to_thread(self._stop_children)
        self.lock.release()
        log.info("stopped")

    async def _keep_claims(self) -> None:
        """Unfinished server claims stay this bot's, for its next start (core/orphans.py)."""
        if self.dispatcher is None:
            return
        with contextlib.suppress(Exception):
            await keep_claims_at_drain(self.dispatcher, self.config.bot.worker_id)

    async def _close_clients(self) -> None:
        await self.journal.aclose()
        if self.client is not None:
            await self.client.aclose()
        for a in self.adapters.values():
            await a.aclose()

    def _stop_children(self) -> None:
        """All at once, 2 s each at most, then SIGKILL: a stop has 10 s in all."""
        children: list[Any] = [*self.local_hosts, *([self.board] if self.board else [])]
        threads = [threading.Thread(target=c.stop, args=(CHILD_STOP_S,), daemon=True)
                   for c in children]
        for t in threads:
            t.start()
        for t in threads:
            t.join(CHILD_STOP_S + 6.0)

    def kill_everything(self) -> None:
        """Second signal: no drain. Children die with SIGKILL; the journal and the server
        let the next start recover."""
        pids = (self.pool.pids() if self.pool else []) + [
            p for p in [lh.pid for lh in self.local_hosts] if p]
        if self.board is not None and self.board.proc is not None:
            pids.append(self.board.proc.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if self.manager is not None:
            self.manager.stop()


def _serves(host: HostConfig) -> frozenset[str]:
    """The models a host may serve: its `models`, and the names its name map translates
    (empty: whatever it reports)."""
    return frozenset(host.models) | frozenset(host.name_map) if host.models else frozenset()
