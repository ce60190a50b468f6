"""Heal ends for a reply that cannot exist or can never be shown, and only for those: a reply
stored but lost from the cache is healed with backoff and no give-up (real board, in-process).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from botcluster.comments import CommentsClient, Message, Reply, new_message_id
from botcluster.config.model import HealConfig
from botcluster.core.heal import ABSENT_AFTER_S, HealTracker
from botcluster.core.job_runner import JobRunner, RunnerDeps
from botcluster.core.jobs import PostedReply
from botcluster.core.journal import Journal, JournalState
from botcluster.core.link import DispatcherLink
from botcluster.hosts.adapters import ChatResult
from tests.core.helpers import Clock, dispatcher, entity, host, job
from tests.support.inboard import BASE, InBoard, in_board

pytestmark = pytest.mark.timeout(60)

SETTINGS = HealConfig(initial_backoff_s=1.0, max_backoff_s=8.0)


def _heals(outcome: str) -> float:
    return REGISTRY.get_sample_value("botcluster_heals_total", {"outcome": outcome}) or 0.0


def _reply(rid: str, to: str, ts_ms: int, username: str = "E1") -> Reply:
    return Reply(id=rid, text="an answer", timestamp=ts_ms, username=username,
                 color="100100100", reply_to=to)


async def _verify_until_settled(heal: HealTracker, clock: Clock, rounds: int = 60) -> int:
    """Verify every 10 (fake) seconds; returns the rounds it took to empty, or -1."""
    for n in range(rounds):
        await heal.verify()
        if not heal.pending:
            return n
        clock.advance(10)
    return -1


def _tracker(client: CommentsClient, tmp: Path, clock: Clock) -> HealTracker:
    return HealTracker(client, Journal(tmp / "j.jsonl"), SETTINGS, clock=clock)


class Answers:
    """An LLM host that answers at once."""

    can_load = False

    async def chat(self, model: str, messages: Any, params: Any) -> ChatResult:
        return ChatResult("an answer of ours")


def test_someone_elses_reply_to_the_message_does_not_stop_ours(tmp_path: Path) -> None:
    """A worker chose its reply id, began a POST and died; meanwhile another poster stored an
    AI message with `replyTo` set to the human's message. The restarted bot must not take that
    for its own reply: it posts its own, under the id it chose, and the heal tracker sees it."""
    now_ms = int(time.time() * 1000)
    mid, ours = f"{now_ms}-human", new_message_id(now_ms + 1)

    async def go(board: InBoard) -> tuple[str | None, int, list[str]]:
        await board.human(mid, ts_ms=now_ms)
        client = board.client()
        await client.post(_reply(new_message_id(now_ms + 2), mid, now_ms + 2, "Other"))
        clock = Clock(now=time.time())
        d = dispatcher([host("h", loaded=("m1",))], clock=clock)
        deps = RunnerDeps(config=SimpleNamespace(entities={"e1": entity()},  # type: ignore
                                                 bot=SimpleNamespace(worker_id="bot", nom=10)),
                          link=DispatcherLink(d), client=client,
                          adapters={"h": Answers()},  # type: ignore[dict-item]
                          journal=Journal(tmp_path / "j.jsonl"), server_worker_id="bot-w0",
                          clock=clock)
        queued = job(mid)
        queued.message = Message(id=mid, text="hello", timestamp=now_ms, username="Human",
                                 color="080195229", message_type="human", entity="e1")
        queued.message_ts_ms, queued.reply_id, queued.post_attempted = now_ms, ours, True
        queued.server_claimed = True
        d.offer([queued])
        claim = d.claim("w")
        assert claim is not None
        outcome = await JobRunner(deps).run(claim)
        heal = _tracker(client, tmp_path, clock)
        for posted in d.take_posted():
            heal.track(posted)
        rounds = await _verify_until_settled(heal, clock)
        replies = [m.id for m in await client.recent(after_ms=now_ms - 1, limit=1000,
                                                     message_type="AI")
                   if m.reply_to == mid]
        await heal.journal.aclose()
        await deps.journal.aclose()
        await client.aclose()
        return outcome, rounds, replies

    async def main() -> tuple[str | None, int, list[str]]:
        async with in_board(tmp_path) as board:
            return await go(board)

    outcome, rounds, replies = asyncio.run(main())
    assert outcome == "replied"
    assert ours in replies, "the human got no reply of ours"
    assert rounds >= 0


def test_a_kv_reply_without_a_record_ends_as_absent_not_healed_forever(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A tracked reply id the server has no record of (add-to-cache answers 404)."""
    now = time.time()
    ours = new_message_id(int(now * 1000))
    before = _heals("absent")

    async def main() -> int:
        async with in_board(tmp_path) as board:
            client = board.client()
            clock = Clock(now=now)
            heal = _tracker(client, tmp_path, clock)
            heal.track(PostedReply(reply_id=ours, message_id="h", posted_at=now))
            rounds = await _verify_until_settled(heal, clock)
            await heal.journal.aclose()
            await client.aclose()
            return rounds

    rounds = asyncio.run(main())
    assert rounds >= 0, "heal_pending never returned to zero"
    assert _heals("absent") == before + 1
    assert REGISTRY.get_sample_value("botcluster_heal_pending") == 0
    assert f"reply {ours}" in caplog.text and "no record" in caplog.text
    assert not JournalState.read(tmp_path / "j.jsonl").posted


def test_a_stored_reply_the_cache_keeps_losing_is_healed_with_backoff_and_never_given_up(
        tmp_path: Path) -> None:
    class LossyCache(CommentsClient):
        """Every heal of `hidden` is lost again by the cache race (the record stays)."""

        hidden = ""

        async def recent(self, **kw: Any) -> list[Message]:
            return [m for m in await super().recent(**kw) if m.id != self.hidden]

    now_ms = int(time.time() * 1000)
    rid = new_message_id(now_ms)
    before_absent = _heals("absent")

    async def main() -> tuple[int, int, float]:
        async with in_board(tmp_path) as board:
            client = LossyCache(BASE, transport=board.transport, dialect="kv")
            LossyCache.hidden = rid
            await client.post(_reply(rid, f"{now_ms}-human", now_ms))
            clock = Clock(now=time.time())
            heal = _tracker(client, tmp_path, clock)
            heal.track(PostedReply(reply_id=rid, message_id="h", posted_at=clock()))
            rounds = await _verify_until_settled(heal, clock, rounds=120)  # 20 minutes
            calls = board.state.counters.heals
            LossyCache.hidden = ""  # the next heal sticks
            healed = await _verify_until_settled(heal, clock, rounds=5)
            await heal.journal.aclose()
            await client.aclose()
            return rounds, healed, calls

    rounds, healed, calls = asyncio.run(main())
    assert rounds == -1, "a reply that exists is never given up"
    assert 1200 / SETTINGS.max_backoff_s * 0.8 <= calls <= 1200 / SETTINGS.max_backoff_s + 5
    assert healed >= 0 and _heals("absent") == before_absent


def test_a_do_reply_older_than_the_newest_thousand_ends_as_beyond_the_window(
        tmp_path: Path) -> None:
    now_ms = int(time.time() * 1000)
    rid = new_message_id(now_ms)
    before = _heals("beyond_window")

    async def main() -> tuple[int, float]:
        async with in_board(tmp_path, "do") as board:
            client = board.client()
            await client.post(_reply(rid, f"{now_ms}-human", now_ms))
            newer = [{"id": f"{now_ms + 1 + i}-n{i}", "text": "x", "timestamp": now_ms + 1 + i,
                      "username": "Other", "message-type": "AI"} for i in range(1000)]

            def fill(r: Any) -> None:
                for m in newer:
                    r.put(m)
            await board.state.store.atomic(fill)
            clock = Clock(now=time.time())
            heal = _tracker(client, tmp_path, clock)
            heal.track(PostedReply(reply_id=rid, message_id="h", posted_at=now_ms / 1000))
            rounds = await _verify_until_settled(heal, clock, rounds=5)
            await heal.journal.aclose()
            await client.aclose()
            return rounds, _heals("beyond_window")

    rounds, after = asyncio.run(main())
    assert rounds == 0, "concluded at the first read that cannot show it"
    assert after == before + 1


def test_a_do_reply_that_was_never_stored_ends_as_absent_after_the_grace(
        tmp_path: Path) -> None:
    now = time.time()
    rid = new_message_id(int(now * 1000))
    before = _heals("absent")

    async def main() -> tuple[int, float]:
        async with in_board(tmp_path, "do") as board:
            client = board.client()
            clock = Clock(now=now)
            heal = _tracker(client, tmp_path, clock)
            heal.track(PostedReply(reply_id=rid, message_id="h", posted_at=now))
            rounds = await _verify_until_settled(heal, clock)
            await heal.journal.aclose()
            await client.aclose()
            return rounds, _heals("absent")

    rounds, after = asyncio.run(main())
    assert rounds * 10 >= ABSENT_AFTER_S, "not before the grace"
    assert rounds * 10 <= ABSENT_AFTER_S + 30
    assert after == before + 1
