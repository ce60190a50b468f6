"""Polls every host's own account of its models and slots into the dispatcher."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botcluster.core.cluster import HostReport
from botcluster.errors import BotclusterError
from botcluster.hosts.adapters import HostAdapter

log = logging.getLogger(__name__)


async def read_host(adapter: HostAdapter) -> HostReport:
    """The host's report; a host that cannot be read is reported down, with the reason."""
    try:
        return await adapter.state()
    except BotclusterError as exc:
        return HostReport(host=adapter.host.name, up=False, error=str(exc))
    except Exception as exc:  # garbage in the host's answer: that host is unusable, not the bot
        log.warning("host %s sent an answer that does not parse: %r", adapter.host.name, exc)
        return HostReport(host=adapter.host.name, up=False, error=f"bad answer: {exc!r}")


async def poll_hosts(adapters: dict[str, HostAdapter], dispatcher: Any) -> list[HostReport]:
    reports = await asyncio.gather(*(read_host(a) for a in adapters.values()))
    for report in reports:
        await asyncio.to_thread(dispatcher.report_host, report)
    return list(reports)


def describe(report: HostReport, slots: int) -> str:
    """One line per host for the banner and `check`, e.g. "local-1: 1 loaded (smollm2 x2),
    2 slots": each loaded model with its instance's slots where the host reports them, and
    the host-wide cap."""
    if not report.up:
        return f"{report.host}: DOWN ({report.error})"
    names = ", ".join(f"{m} x{report.parallel[m]}" if report.parallel.get(m) else m
                      for m in sorted(report.loaded)) or "-"
    return f"{report.host}: {len(report.loaded)} loaded ({names}), {report.slots or slots} slots"
