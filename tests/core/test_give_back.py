"""Claims a bot holds when it stops, and claims nobody here works on: taken back by the same
bot, never spent against the server's attempts (real board in-process, both dialects).

Each run of the bot is built as a start builds it: the journal compacted, a fresh dispatcher
that forgets what the journal says is done, the poller's recovery, a job runner, the drain's
step; a drain during a generation is the worker killed in the middle of its host call.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from botcluster.comments import CommentsClient
from botcluster.config import Config
from botcluster.core.dispatcher import Dispatcher
from botcluster.core.job_runner import JobRunner, RunnerDeps
from botcluster.core.journal import Journal, compact
from botcluster.core.link import DispatcherLink
from botcluster.core.orphans import OrphanSweeper, keep_claims_at_drain
from botcluster.core.poller import Poller
from botcluster.errors import GenerationError
from botcluster.hosts.adapters import ChatResult
from tests.config.builders import BASE, load_text
from tests.core.helpers import Clock, dispatcher, host
from tests.support.inboard import InBoard, in_board

pytestmark = pytest.mark.timeout(60)


class SlowHost:
    """A generation that takes as long as the test says: `finish` lets it answer."""

    can_load = False

    def __init__(self, fail: bool = False) -> None:
        self.started = asyncio.Event()
        self.finish = asyncio.Event()
        self.fail = fail
        self.calls = 0

    async def chat(self, model: str, messages: Any, params: Any) -> ChatResult:
        self.calls += 1
        self.started.set()
        if self.fail:
            raise GenerationError("h", "garbage")
        await self.finish.wait()
        return ChatResult("hello there")


@dataclass
class Run:
    """One start of the bot, until its drain."""

    d: Dispatcher
    poller: Poller
    runner: JobRunner
    journal: Journal


async def _start(config: Config, client: CommentsClient, host_: SlowHost, clock: Clock) -> Run:
    state = compact(config.bot.journal_path)
    d = dispatcher([host("h1", loaded=("m1",))], clock=clock, retry_backoff_s=0)
    d.forget(list(state.done))
    journal = Journal(config.bot.journal_path)
    poller = Poller(config, client, d, state, writer=journal)
    await poller.recover()
    deps = RunnerDeps(config=config, link=DispatcherLink(d), client=client,
                      adapters={"h1": host_},  # type: ignore[dict-item]
                      journal=journal, server_worker_id=f"{config.bot.worker_id}-w0")
    return Run(d, poller, JobRunner(deps), journal)


def _config(tmp: Path, worker_id: str = "bot") -> Config:
    return load_text(tmp, f'[bot]\nworker_id = "{worker_id}"\njournal_path = "{tmp}/j.jsonl"\n'
                     + BASE)


@pytest.mark.parametrize("dialect", ["kv", "do"])
def test_three_drains_during_one_slow_generation_leave_it_answered_once_not_failed(
        tmp_path: Path, dialect: str) -> None:
    config = _config(tmp_path)
    mid = f"{int(time.time() * 1000)}-slow"

    async def go(board: InBoard) -> dict[str, Any]:
        await board.human(mid, ts_ms=int(time.time() * 1000))
        client = board.client()
        clock = Clock()
        for run_no in range(4):
            host_ = SlowHost()
            run = await _start(config, client, host_, clock)
            if run_no == 0:
                assert await run.poller.poll() == 1
            claim = run.d.claim("bot-w0")
            assert claim is not None and claim.job.message_id == mid, f"run {run_no}"
            task = asyncio.create_task(run.runner.run(claim))
            started = asyncio.create_task(host_.started.wait())
            await asyncio.wait([task, started], timeout=10,
                               return_when=asyncio.FIRST_COMPLETED)
            if task.done():  # it never reached the host: the claim was not taken again
                started.cancel()
                await run.journal.aclose()
                break
            if run_no < 3:
                task.cancel()  # the drain's grace ran out: the worker is killed mid-generation
                await asyncio.gather(task, return_exceptions=True)
                assert await keep_claims_at_drain(run.d, "bot") == [mid]
            else:
                host_.finish.set()
                assert await task == "replied"
            await run.journal.aclose()
        await client.aclose()
        return await board.record(mid)

    async def main() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with in_board(tmp_path, dialect) as board:  # type: ignore[arg-type]
            record = await go(board)
            replies = await board.state.store.atomic(
                lambda r: r.query("WHERE json_extract(body, '$.replyTo') = ?", mid))
            return record, replies

    record, replies = asyncio.run(main())
    params = record["botParams"]
    assert params["status"] == "complete", params
    assert params.get("attempts", 0) == 0, "a drain spent the server's attempts"
    assert len(replies) == 1


@pytest.mark.parametrize("dialect", ["kv", "do"])
def test_an_orphaned_claim_of_ours_is_taken_back_and_answered_without_spending_attempts(
        tmp_path: Path, dialect: str) -> None:
    config = _config(tmp_path)
    mid = f"{int(time.time() * 1000)}-orphan"

    async def main() -> tuple[int, int, dict[str, Any]]:
        async with in_board(tmp_path, dialect) as board:  # type: ignore[arg-type]
            await board.human(mid, ts_ms=int(time.time() * 1000))
            assert await board.claim(mid, "bot-w1") == 200  # journal lost with the claim
            client = board.client()
            clock = Clock()
            host_ = SlowHost()
            host_.finish.set()
            run = await _start(config, client, host_, clock)
            sweeper = OrphanSweeper(client, run.d, "bot", timeout_s=300,
                                    adopt=run.poller.adopt, clock=clock)
            early = await sweeper.sweep()
            clock.advance(301)
            late = await sweeper.sweep()
            claim = run.d.claim("bot-w0")
            assert claim is not None
            assert await run.runner.run(claim) == "replied"
            await run.journal.aclose()
            await client.aclose()
            return early, late, await board.record(mid)

    early, late, record = asyncio.run(main())
    assert (early, late) == (0, 1)
    assert record["botParams"]["status"] == "complete"
    assert record["botParams"].get("attempts", 0) == 0


def test_a_do_dead_letter_ends_visible_and_is_not_retried_forever(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The DO dialect has no /fail: the dead letter stays `processing` under our worker id.
    The bot says so (journal, jobs and held-claims metrics, a log line), a sweep does not
    take it back for another round of attempts, and neither does a restart."""
    config = _config(tmp_path)
    mid = f"{int(time.time() * 1000)}-dead"

    async def main() -> tuple[list[Any], Any, int, int]:
        async with in_board(tmp_path, "do") as board:
            await board.human(mid, ts_ms=int(time.time() * 1000))
            client = board.client()
            clock = Clock()
            host_ = SlowHost(fail=True)
            run = await _start(config, client, host_, clock)
            assert await run.poller.poll() == 1
            outcomes: list[Any] = []
            while (claim := run.d.claim("bot-w0")) is not None:
                outcomes.append(await run.runner.run(claim))
            ended = run.d.snapshot()["outcomes"]
            await run.journal.aclose()
            adopted = 0
            for _restart in range(2):
                run = await _start(config, client, host_, clock)
                sweeper = OrphanSweeper(client, run.d, "bot", timeout_s=300,
                                        adopt=run.poller.adopt, clock=clock)
                await sweeper.sweep()
                clock.advance(301)
                adopted += await sweeper.sweep()
                assert run.d.claim("bot-w0") is None, "taken again for more attempts"
                await run.journal.aclose()
            await client.aclose()
            return outcomes, ended, adopted, host_.calls

    outcomes, ended, adopted, calls = asyncio.run(main())
    assert outcomes == [None, None, None] and ended == [("e1", "dead_lettered")]
    assert adopted == 0 and calls == 3
    state = compact(config.bot.journal_path)
    assert state.done[mid] == "dead_lettered"
    assert REGISTRY.get_sample_value("botcluster_finished_claims_held") == 1
    warned = [r for r in caplog.records if r.levelname == "WARNING"
              and f"message {mid} is finished here" in r.getMessage()]
    assert warned, "a person reading the log finds the dead letter"
