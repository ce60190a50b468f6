"""Whose server claim is it: two bots whose worker ids share a beginning never take each
other's claims, and a restarted bot still knows its own (real board, in-process)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from botcluster.comments import Message
from botcluster.config.model import default_worker_id
from botcluster.core.job_runner import JobRunner, RunnerDeps
from botcluster.core.journal import Journal
from botcluster.core.link import DispatcherLink
from botcluster.core.orphans import OrphanSweeper
from botcluster.core.server_claims import claimed_by_bot
from tests.config.builders import BASE, load_error
from tests.core.helpers import Clock, dispatcher, entity, host, job
from tests.support.inboard import InBoard, in_board

pytestmark = pytest.mark.timeout(60)

MID = "1000000000000-abc"


class NoHost:
    can_load = False

    async def chat(self, *a: object) -> object:
        raise AssertionError("a claim that is not ours must never be answered")


def _runner(board: InBoard, tmp: Path, worker_id: str) -> tuple[JobRunner, object]:
    clock = Clock()
    d = dispatcher([host("h", loaded=("m1",))], clock=clock)
    deps = RunnerDeps(config=SimpleNamespace(entities={"e1": entity()},  # type: ignore[arg-type]
                                             bot=SimpleNamespace(worker_id=worker_id)),
                      link=DispatcherLink(d), client=board.client(),
                      adapters={"h": NoHost()},  # type: ignore[dict-item]
                      journal=Journal(tmp / f"{worker_id}.jsonl"),
                      server_worker_id=f"{worker_id}-w0", clock=clock)
    queued = job(MID)
    queued.message = Message(id=MID, text="hello", timestamp=1, username="Human", color="080195229",
                             message_type="human", entity="e1")
    queued.message_ts_ms = 1
    queued.crashes = 1  # recovered from the journal after a crash: may be its own claim
    d.offer([queued])
    return JobRunner(deps), d


async def _run_once(board: InBoard, tmp: Path, worker_id: str) -> str | None:
    runner, d = _runner(board, tmp, worker_id)
    claim = d.claim("w")  # type: ignore[attr-defined]
    assert claim is not None
    try:
        return await runner.run(claim)
    finally:
        await runner.d.client.aclose()
        await runner.d.journal.aclose()


@pytest.mark.parametrize("ours, theirs", [("bot", "bot-w2"), ("bot-w2", "bot"),
                                          ("botcluster-pod", "botcluster-pod-7")])
def test_a_crashed_bot_does_not_take_over_a_claim_of_a_bot_whose_id_shares_its_start(
        tmp_path: Path, ours: str, theirs: str) -> None:
    async def go() -> tuple[str | None, dict[str, object]]:
        async with in_board(tmp_path) as board:
            await board.human(MID)
            assert await board.claim(MID, f"{theirs}-w0") == 200
            outcome = await _run_once(board, tmp_path, ours)
            return outcome, (await board.record(MID))["botParams"]

    outcome, params = asyncio.run(go())
    assert outcome == "lost_claim"
    assert params["claimedBy"] == f"{theirs}-w0" and params["status"] == "processing"


@pytest.mark.parametrize("worker_id", ["bot", default_worker_id("k" * 63), "b" * 64])
def test_a_restarted_bot_with_the_same_worker_id_takes_its_own_claim_back(
        tmp_path: Path, worker_id: str) -> None:
    """The board stores `claimedBy` as sent, whatever its length, as the site does
    (CONTRACT.md): the longest id the config accepts is still recognised."""
    async def go() -> tuple[str | None, str]:
        async with in_board(tmp_path) as board:
            await board.human(MID)
            # a worker killed after its claim
            assert await board.claim(MID, f"{worker_id}-w1") == 200
            runner, d = _runner(board, tmp_path, worker_id)
            claim = d.claim("w")  # type: ignore[attr-defined]
            assert claim is not None
            taken = await runner._server_claim(claim.job, claim.lease)
            await runner.d.client.aclose()
            await runner.d.journal.aclose()
            return ("taken" if taken else "left"), (await board.record(MID))["botParams"][
                "claimedBy"]

    assert asyncio.run(go()) == ("taken", f"{worker_id}-w1")


def test_the_orphan_sweep_leaves_the_claims_of_a_bot_whose_id_extends_ours(
        tmp_path: Path) -> None:
    async def go() -> dict[str, object]:
        async with in_board(tmp_path) as board:
            await board.human(MID)
            assert await board.claim(MID, "bot-w2-w0") == 200
            clock = Clock()
            client = board.client()
            sweeper = OrphanSweeper(client, dispatcher([host("h")], clock=clock), "bot",
                                    timeout_s=10, clock=clock)
            await sweeper.sweep()
            clock.advance(11)
            await sweeper.sweep()
            await client.aclose()
            return (await board.record(MID))["botParams"]

    params = asyncio.run(go())
    assert params["claimedBy"] == "bot-w2-w0" and params["status"] == "processing"
    assert params["attempts"] == 0


def test_claim_ownership_is_an_exact_match_of_a_worker_of_the_bot() -> None:
    assert claimed_by_bot("bot-w0", "bot") and claimed_by_bot("bot-w12", "bot")
    assert not claimed_by_bot("bot-w2-w0", "bot")
    assert not claimed_by_bot("bot-w", "bot") and not claimed_by_bot("bot-wx", "bot")
    assert not claimed_by_bot("bot-w0", "bot-w") and not claimed_by_bot(None, "bot")
    assert claimed_by_bot("bot-w2-w0", "bot-w2") and not claimed_by_bot("bot-w2", "bot-w2")


def test_long_host_names_give_distinct_default_worker_ids_that_stay_stable() -> None:
    pods = [f"botcluster-deployment-5d8f7c9b4-{s}" for s in ("x7k2p", "q9m4z", "a1b2c")]
    ids = [default_worker_id(p) for p in pods]
    assert len(set(ids)) == 3, ids
    assert all(len(i) <= 48 for i in ids)
    assert [default_worker_id(p) for p in pods] == ids, "stable across restarts"
    assert ids[0].startswith("botcluster-botcluster-deployment"), "readable"
    # Names that cleaning would merge stay apart; short clean names keep their old id.
    assert default_worker_id("studio_1") != default_worker_id("studio-1")
    assert default_worker_id("mac-studio-2") == "botcluster-mac-studio-2"


@pytest.mark.parametrize("value, why", [("bot one", "letters, digits"), ("x" * 65, "64"),
                                        ("-bot", "letters, digits"), ("bot\\n", "letters")])
def test_a_worker_id_that_cannot_work_is_a_config_error(tmp_path: Path, value: str,
                                                        why: str) -> None:
    error = load_error(tmp_path, f'[bot]\nworker_id = "{value}"\n' + BASE)
    assert "worker_id" in str(error) and why in str(error)
