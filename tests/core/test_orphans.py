"""The sweep that gives back server claims left by this bot's dead workers (real board)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from botcluster.comments import CommentsClient
from botcluster.core.orphans import OrphanSweeper
from tests.core.helpers import Clock, dispatcher, host, job
from tests.support.procs import botcluster_cmd, free_port, running
from tests.support.site import post_human

pytestmark = pytest.mark.timeout(60)


def _status(url: str, mid: str) -> str:
    msgs = httpx.get(url + "/api/comments", params={"after": 0, "limit": 100}).json()
    return str(next(m for m in msgs if m["id"] == mid)["botParams"]["status"])


def test_only_our_unheld_claims_are_returned_and_only_after_the_timeout(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(botcluster_cmd("board", "--port", str(port), "--db", str(tmp_path / "b.db")),
                 ready_url=url + "/api/stats"):
        now = int(time.time() * 1000)
        ids = {"orphan": f"{now}-orphan", "held": f"{now}-held", "other": f"{now}-other",
               "answered": f"{now}-answered"}
        for mid in ids.values():
            post_human(url, mid, "hello", "e1")
        for name, worker in (("orphan", "bot-w0"), ("held", "bot-w1"), ("other", "else-w0"),
                             ("answered", "bot-w2")):
            httpx.post(url + "/api/queue/claim",
                       json={"messageId": ids[name], "workerId": worker}).raise_for_status()
        clock = Clock()
        d = dispatcher([host("h")], clock=clock)
        d.offer([job(ids["held"])])  # a live worker of ours is on it
        d.forget([ids["answered"]])  # answered; the cache lost the write of its completion

        async def sweeps() -> tuple[int, int]:
            client = CommentsClient(url)
            sweeper = OrphanSweeper(client, d, "bot-w", timeout_s=300, clock=clock)
            first = await sweeper.sweep()
            clock.advance(301)
            second = await sweeper.sweep()
            await client.aclose()
            return first, second

        assert asyncio.run(sweeps()) == (0, 1)
        assert _status(url, ids["orphan"]) == "pending"
        assert _status(url, ids["held"]) == "processing"
        assert _status(url, ids["other"]) == "processing", "another bot's claim is not ours"
        assert _status(url, ids["answered"]) == "processing", "answered: never failed back"
