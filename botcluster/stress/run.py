"""A stress run: N tabs post at once (or spread over a while), the observer waits for replies.

    report = asyncio.run(run_stress(StressSettings(api_url="http://127.0.0.1:8787")))

Order: read the counters of the board and the simulated hosts; start every tab (each posts at
its moment in the spread, then heals its own message until visible); poll the cache until every
message has a reply or the deadline passes; keep polling `settle_s` more (a second reply would
show up then); read the counters again; add it all up (report.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from botcluster.comments import new_message_id
from botcluster.stress import probes
from botcluster.stress.observer import Observer
from botcluster.stress.report import (
    Exercised,
    SentMessage,
    StressReport,
    account,
    peak_within,
    reply_timestamps,
)
from botcluster.stress.tab import Tab, TabTiming, human_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StressSettings:
    """One run. `deadline_s` counts from the start of the run; times are seconds."""

    api_url: str
    messages: int = 29
    entities: tuple[str, ...] = ("emotional-intelligence",)
    deadline_s: float = 120.0
    spread_s: float = 0.0  # 0: every tab posts at the same moment
    settle_s: float = 3.0  # keep watching this long after the last reply, for duplicates
    observe_s: float = 0.25  # the observer's poll period
    tab: TabTiming = field(default_factory=TabTiming)
    sim_stats_urls: tuple[str, ...] = ()
    text: str = "Stress message {i} of {n}: how are you today?"
    http_timeout_s: float = 10.0


async def run_stress(settings: StressSettings, *,
                     transport: httpx.AsyncBaseTransport | None = None,
                     clock: Callable[[], float] = time.time) -> StressReport:
    """Run once against `settings.api_url` and return the report. Never raises on HTTP errors
    from the server under test: they are what the run measures."""
    if settings.messages < 1 or not settings.entities:
        raise ValueError("a stress run needs at least one message and one entity")
    limits = httpx.Limits(max_connections=max(100, settings.messages + 10))
    async with httpx.AsyncClient(base_url=settings.api_url, transport=transport,
                                 timeout=settings.http_timeout_s, limits=limits) as http:
        board_before = await probes.board_counters(http)
        sims_before = await probes.sim_stats(http, settings.sim_stats_urls)
        started = clock()
        stop_at = started + settings.deadline_s
        tabs = _tabs(http, settings, clock)
        observer = Observer(http, since_ms=int(started * 1000) - 1000, clock=clock)
        tab_tasks = [asyncio.create_task(_delayed(t, i, settings, stop_at))
                     for i, t in enumerate(tabs)]
        await _observe(observer, lambda: {t.body["id"] for t in tabs}, settings, stop_at,
                       clock)
        sent = await _finish_tabs(tabs, tab_tasks)
        elapsed = clock() - started
        board_after = await probes.board_counters(http)
        sims_after = await probes.sim_stats(http, settings.sim_stats_urls)
    ids = {m.id for m in sent}
    exercised = Exercised(
        peak_replies_per_100ms=peak_within(reply_timestamps(observer.seen, ids)),
        host_peak_predictions={h: int(s.get("peak_active", 0)) for h, s in sims_after.items()},
        host_predictions={h: int(s.get("predictions", 0))
                          - int(sims_before.get(h, {}).get("predictions", 0))
                          for h, s in sims_after.items()},
        cache_writes=probes.delta(board_after, board_before, "cacheWrites"),
        overlapping_cache_writes=probes.delta(board_after, board_before,
                                              "overlappingCacheWrites"),
        server_heals=probes.delta(board_after, board_before, "heals"))
    return account(settings.api_url, sent, observer.seen, entities=settings.entities,
                   elapsed_s=round(elapsed, 3), exercised=exercised)


def _tabs(http: httpx.AsyncClient, settings: StressSettings,
          clock: Callable[[], float]) -> list[Tab]:
    out = []
    for i in range(settings.messages):
        entity = settings.entities[i % len(settings.entities)]
        now_ms = int(clock() * 1000)
        text = settings.text.format(i=i + 1, n=settings.messages, entity=entity)
        body = human_message(new_message_id(now_ms), entity, text, now_ms)
        out.append(Tab(http, body, settings.tab, clock=clock))
    return out


async def _delayed(tab: Tab, index: int, settings: StressSettings,
                   stop_at: float) -> SentMessage:
    """Post at this tab's moment of the spread; the id's timestamp is the real post time."""
    if settings.spread_s > 0 and settings.messages > 1:
        await asyncio.sleep(settings.spread_s * index / (settings.messages - 1))
        now_ms = int(tab.clock() * 1000)
        tab.body.update(id=new_message_id(now_ms), timestamp=now_ms)
    return await tab.run(stop_at)


async def _observe(observer: Observer, ids: Callable[[], set[str]], settings: StressSettings,
                   stop_at: float, clock: Callable[[], float]) -> None:
    """Poll until every id has a reply (then `settle_s` more) or `stop_at`. `ids` is asked
    each time: a spread run's tabs choose their ids when they post."""
    settle_until: float | None = None
    while clock() < stop_at:
        await observer.poll()
        wanted = ids()
        if settle_until is None and len(observer.answered(wanted)) == len(wanted):
            settle_until = clock() + settings.settle_s
            log.info("every message has a reply; watching %.1fs more for duplicates",
                     settings.settle_s)
        if settle_until is not None and clock() >= settle_until:
            return
        await asyncio.sleep(settings.observe_s)


async def _finish_tabs(tabs: list[Tab], tasks: list[asyncio.Task[SentMessage]]
                       ) -> list[SentMessage]:
    """Tabs still posting or healing at the end are stopped where they are."""
    running = [t for t in tasks if not t.done()]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    return [t.result() for t in tabs]
