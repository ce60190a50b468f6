"""The later (Durable Objects) dialect: idempotent POST, version, atomic claims, claim-next."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import httpx
import pytest

from botcluster.board.settings import FaultSettings
from tests.board.conftest import RunningBoard, human


@pytest.fixture
def do_board(make_board: Callable[..., RunningBoard]) -> RunningBoard:
    return make_board(dialect="do", seed=3)


def test_post_idempotent_and_generated_ids(do_board: RunningBoard) -> None:
    r = do_board.post("/api/comments", json=human("hi", id="abc", timestamp=1000))
    assert r.json() == {"id": "abc", "timestamp": 1000, "status": "success"}
    r = do_board.post("/api/comments", json=human("again", id="abc", timestamp=2000))
    assert r.json() == {"id": "abc", "timestamp": 1000, "status": "duplicate"}
    generated = do_board.post("/api/comments", json=human("no id")).json()
    assert re.fullmatch(r"[a-z0-9]{10}", generated["id"]) and generated["status"] == "success"
    assert do_board.post("/api/comments", json=human("  ")).status_code == 400


def test_get_messages_and_version(do_board: RunningBoard) -> None:
    empty = do_board.get("/api/comments?after=0").json()
    assert empty["messages"] == [] and isinstance(empty["version"], str)
    for i in range(3):
        do_board.post("/api/comments", json=human(f"m{i}", timestamp=1000 + i))
    r = do_board.get("/api/comments?after=1000").json()
    assert [m["text"] for m in r["messages"]] == ["m2", "m1"]
    assert r["version"] != empty["version"]
    since = do_board.get("/api/comments?since=1001").json()["messages"]
    assert [m["text"] for m in since] == ["m2"]
    assert len(do_board.get("/api/comments").json()["messages"]) == 3


def test_queue_and_claim_next(do_board: RunningBoard) -> None:
    low = do_board.post("/api/comments", json=human("low", timestamp=1, botParams={"priority": 1}))
    high = do_board.post("/api/comments", json=human("hi", timestamp=2, botParams={"priority": 99}))
    pending = do_board.get("/api/queue/pending").json()["pending"]
    assert [m["id"] for m in pending] == [high.json()["id"], low.json()["id"]]
    r = do_board.post("/api/queue/claim-next", json={"workerId": "w"}).json()
    assert r["success"] is True and r["message"]["id"] == high.json()["id"]
    assert r["message"]["botParams"]["claimedBy"] == "w"
    r = do_board.post("/api/queue/claim", json={"messageId": low.json()["id"], "workerId": "w"})
    assert r.status_code == 200
    assert do_board.post("/api/queue/claim-next", json={"workerId": "w"}).json() == {
        "success": True, "message": None}
    assert do_board.post("/api/queue/claim", json={"messageId": low.json()["id"],
                                                   "workerId": "x"}).status_code == 409
    assert do_board.post("/api/queue/complete",
                         json={"messageId": low.json()["id"]}).json() == {"success": True}
    assert do_board.post("/api/queue/claim-next", json={}).status_code == 400


def test_no_fail_add_to_cache_heartbeat_patch(do_board: RunningBoard) -> None:
    for r in (do_board.post("/api/queue/fail", json={"messageId": "x"}),
              do_board.post("/api/admin/add-to-cache", json={"messageId": "x"}),
              do_board.get("/api/heartbeat"),
              do_board.client.patch(do_board.url + "/api/comments/x",
                                    json={"botParams": {"processed": True}})):
        assert r.status_code == 404


def test_claims_are_atomic_even_with_race_faults(make_board: Callable[..., RunningBoard]) -> None:
    b = make_board(dialect="do", faults=FaultSettings(cache_race=True, claim_race=True))
    ids = [b.post("/api/comments", json=human(f"m{i}")).json()["id"] for i in range(10)]

    async def grab() -> list[str]:
        async with httpx.AsyncClient(timeout=10) as client:
            calls = [client.post(b.url + "/api/queue/claim-next", json={"workerId": f"w{i}"})
                     for i in range(30)]
            found = [r.json()["message"] for r in await asyncio.gather(*calls)]
            return [m["id"] for m in found if m]

    won = asyncio.run(grab())
    assert sorted(won) == sorted(ids)  # each claimed exactly once, none twice
