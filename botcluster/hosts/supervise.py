"""Keeps the local LLM hosts the bot started running: one that dies is restarted, with backoff.

`LocalHostSupervisor.check()` is called from the supervisor's loop (about once a second) and
never blocks. A child found dead is reported at once (the caller marks its host down, so that
no job waits on it and the jobs it was serving go back to the queue), then started again once
its backoff has passed and its port is free (a stranger that took the port meanwhile is never
adopted: the restart waits, and says why). The caller's host poll marks the host up when the
new child answers. A child that stayed up for `stable_s` earns its backoff back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from botcluster.core.ports import Listener, check_free
from botcluster.errors import LocalHostError, PortInUse
from botcluster.hosts.local import LocalHostProcess

log = logging.getLogger(__name__)

EventKind = Literal["died", "restarted", "blocked"]


@dataclass(frozen=True)
class HostEvent:
    host: str
    kind: EventKind
    detail: str


@dataclass
class _Watch:
    proc: LocalHostProcess
    backoff_s: float
    started_at: float
    restart_at: float | None = None  # set while the child is dead and awaits its restart


class LocalHostSupervisor:
    def __init__(self, procs: Iterable[LocalHostProcess], *,
                 clock: Callable[[], float] = time.monotonic, initial_backoff_s: float = 1.0,
                 max_backoff_s: float = 60.0, stable_s: float = 60.0) -> None:
        self.clock = clock
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stable_s = stable_s
        now = clock()
        self._watches = [_Watch(p, initial_backoff_s, now) for p in procs]

    def check(self) -> list[HostEvent]:
        """Find dead children and restart those whose backoff is over; what happened, in order."""
        events: list[HostEvent] = []
        now = self.clock()
        for w in self._watches:
            if w.restart_at is None:
                if w.proc.alive:
                    if now - w.started_at >= self.stable_s:
                        w.backoff_s = self.initial_backoff_s
                    continue
                events.append(self._died(w, now))
            elif now >= w.restart_at:
                events.append(self._restart(w, now))
        return events

    def _died(self, w: _Watch, now: float) -> HostEvent:
        detail = f"local host process exited with code {w.proc.returncode}"
        reason = w.proc.exit_reason()
        if reason.startswith(": "):
            detail += reason
        log.warning("%s: %s; restarting in %.0fs", w.proc.host.name, detail, w.backoff_s)
        self._schedule(w, now)
        return HostEvent(w.proc.host.name, "died", detail)

    def _restart(self, w: _Watch, now: float) -> HostEvent:
        name = w.proc.host.name
        listener = Listener(f'[[hosts]] "{name}" url port', w.proc.address[0], w.proc.port)
        try:
            check_free(listener)
            w.proc.start()
        except (PortInUse, LocalHostError) as exc:
            log.error("%s: cannot restart the local host: %s; next try in %.0fs", name, exc,
                      w.backoff_s)
            self._schedule(w, now)
            return HostEvent(name, "blocked", str(exc))
        w.restart_at, w.started_at = None, now
        log.info("%s: local host restarted (pid %s)", name, w.proc.pid)
        return HostEvent(name, "restarted", f"pid {w.proc.pid}")

    def _schedule(self, w: _Watch, now: float) -> None:
        w.restart_at = now + w.backoff_s
        w.backoff_s = min(self.max_backoff_s, w.backoff_s * 2)
