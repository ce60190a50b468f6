"""The sweep that takes back server claims left by this bot's dead workers (real board)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from botcluster.core.journal import JournalState
from botcluster.core.orphans import OrphanSweeper
from botcluster.core.poller import Poller
from tests.config.builders import BASE, load_text
from tests.core.helpers import Clock, dispatcher, host, job
from tests.support.inboard import in_board

pytestmark = pytest.mark.timeout(60)


def test_only_our_unheld_claims_are_taken_back_and_only_after_the_timeout(
        tmp_path: Path) -> None:
    config = load_text(tmp_path, '[bot]\nworker_id = "bot"\n' + BASE)
    now = int(time.time() * 1000)
    ids = {"orphan": f"{now}-orphan", "held": f"{now}-held", "other": f"{now}-other",
           "answered": f"{now}-answered"}

    async def go() -> tuple[tuple[int, int], dict[str, dict[str, object]], set[str]]:
        async with in_board(tmp_path) as board:
            for mid in ids.values():
                await board.human(mid, ts_ms=now)
            for name, worker in (("orphan", "bot-w0"), ("held", "bot-w1"),
                                 ("other", "else-w0"), ("answered", "bot-w2")):
                assert await board.claim(ids[name], worker) == 200
            clock = Clock()
            d = dispatcher([host("h1")], clock=clock)
            d.offer([job(ids["held"])])  # a live worker of ours is on it
            d.forget([ids["answered"]])  # answered; the cache lost the write of its completion
            client = board.client()
            poller = Poller(config, client, d, JournalState(), clock=clock)
            sweeper = OrphanSweeper(client, d, "bot", timeout_s=300, adopt=poller.adopt,
                                    clock=clock)
            first = await sweeper.sweep()
            clock.advance(301)
            second = await sweeper.sweep()
            await client.aclose()
            records = {name: (await board.record(mid))["botParams"]
                       for name, mid in ids.items()}
            return (first, second), records, d.live(list(ids.values()))

    counts, records, live = asyncio.run(go())
    assert counts == (0, 1)
    assert live == {ids["orphan"], ids["held"]}, "the orphan is queued here again"
    assert all(r["status"] == "processing" and r["attempts"] == 0 for r in records.values()), \
        "nothing is sent to /fail: no attempt spent"
    assert records["other"]["claimedBy"] == "else-w0", "another bot's claim is not ours"
    assert REGISTRY.get_sample_value("botcluster_finished_claims_held") == 1  # "answered"
