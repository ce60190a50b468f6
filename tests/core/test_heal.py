"""Healing against the real board reproducing the site's cache race."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from botcluster.comments import CommentsClient, Reply, new_message_id
from botcluster.config.model import HealConfig
from botcluster.core.heal import HealTracker
from botcluster.core.jobs import PostedReply
from botcluster.core.journal import Journal, JournalState
from tests.support.procs import botcluster_cmd, free_port, running

pytestmark = pytest.mark.timeout(120)


def _oldest_pending() -> float | None:
    return REGISTRY.get_sample_value("botcluster_heal_oldest_pending_timestamp_seconds")


async def _burst_then_heal(url: str, journal_path: Path) -> tuple[int, int, int]:
    client = CommentsClient(url)
    now = int(time.time() * 1000)
    replies = [Reply(id=new_message_id(now + i), text=f"reply {i}", timestamp=now + i,
                     username="Bot", color="100100100", reply_to=f"h{i}") for i in range(29)]
    await asyncio.gather(*(client.post(r) for r in replies))
    visible = {m.id for m in await client.recent(limit=1000)}
    lost = sum(r.id not in visible for r in replies)
    journal = Journal(journal_path)
    heal = HealTracker(client, journal, HealConfig(initial_backoff_s=0.05, max_backoff_s=0.2))
    posted_at = time.time() - 30
    for i, r in enumerate(replies):
        heal.track(PostedReply(reply_id=r.id, message_id=r.reply_to, posted_at=posted_at + i))
    assert _oldest_pending() == posted_at, "the oldest unverified reply, for the alert"
    rounds = 0
    while heal.pending and rounds < 200:
        await heal.verify()
        rounds += 1
        await asyncio.sleep(0.05)
    await journal.aclose()
    assert _oldest_pending() == 0, "nothing left unverified"
    final = {m.id for m in await client.recent(limit=1000)}
    await client.aclose()
    return lost, sum(r.id in final for r in replies), heal.healed


def test_every_reply_the_cache_lost_is_healed_until_visible(tmp_path: Path) -> None:
    port = free_port()
    cmd = botcluster_cmd("board", "--port", str(port), "--db", str(tmp_path / "b.db"),
                         "--cache-race", "--seed", "7")
    with running(cmd, ready_url=f"http://127.0.0.1:{port}/api/stats", log=tmp_path / "b.log"):
        lost, visible, healed = asyncio.run(
            _burst_then_heal(f"http://127.0.0.1:{port}", tmp_path / "j.jsonl"))
    assert lost > 0, "the race did not happen: this test exercised nothing"
    assert visible == 29
    assert healed >= lost
    state = JournalState.read(tmp_path / "j.jsonl")
    assert not state.posted  # every one journaled as seen (posted events were not journaled)
    seen = (tmp_path / "j.jsonl").read_text().count('"e":"seen"')
    assert seen == 29
