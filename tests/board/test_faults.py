"""Fault modes: the cache race for real, injected errors, latency, stale reads, the switches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from botcluster.board.settings import FaultSettings
from tests.board.conftest import RunningBoard, human


async def _burst(url: str, n: int, tag: str) -> list[str]:
    """n concurrent POSTs on n connections, as n browser tabs would send them."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        start = asyncio.Event()

        async def one(i: int) -> str:
            await start.wait()
            r = await client.post(url + "/api/comments", json=human(f"{tag} {i}", id=f"{tag}-{i}"))
            assert r.status_code == 200, r.text
            return str(r.json()["id"])

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.sleep(0.05)
        start.set()
        return list(await asyncio.gather(*tasks))


def burst_losses(board: RunningBoard, n: int, tag: str = "burst") -> tuple[int, int]:
    """Post n messages at once; (messages missing from the cache, records missing)."""
    ids = asyncio.run(_burst(board.url, n, tag))
    cached = {m["id"] for m in board.get("/api/comments?after=0&limit=1000").json()}
    records = {m["id"] for m in board.get("/api/comments?limit=1000").json()["comments"]}
    missing_records = 0
    for i in ids:  # every record exists: claim answers 200 or 409, never 404
        r = board.post("/api/queue/claim", json={"messageId": i, "workerId": "check"})
        missing_records += r.status_code == 404
    del records
    return len(set(ids) - cached), missing_records


def test_cache_race_loses_cache_entries_not_records(
        make_board: Callable[..., RunningBoard]) -> None:
    board = make_board(faults=FaultSettings(cache_race=True, race_pause_ms=5))
    lost, missing = burst_losses(board, 29)
    assert missing == 0
    assert lost > 0, "29 concurrent POSTs with the race on should lose some cache entries"
    stats = board.get("/api/stats").json()["board"]
    assert stats["records"] == 29
    assert stats["overlappingCacheWrites"] > 0


def test_no_race_no_loss(make_board: Callable[..., RunningBoard]) -> None:
    board = make_board()
    lost, missing = burst_losses(board, 29)
    assert (lost, missing) == (0, 0)
    stats = board.get("/api/stats").json()
    assert stats["cacheSize"] == 29 and stats["board"]["overlappingCacheWrites"] == 0


def test_heal_restores_lost_entries(make_board: Callable[..., RunningBoard]) -> None:
    board = make_board(faults=FaultSettings(cache_race=True, race_pause_ms=5))
    ids = asyncio.run(_burst(board.url, 29, "heal"))
    for _ in range(20):  # heal one at a time, as a careful client does, until all are visible
        cached = {m["id"] for m in board.get("/api/comments?after=0&limit=1000").json()}
        missing = [i for i in ids if i not in cached]
        if not missing:
            break
        for i in missing:
            assert board.post("/api/admin/add-to-cache", json={"messageId": i}).status_code == 200
    assert not missing


def test_claim_race_two_winners(make_board: Callable[..., RunningBoard]) -> None:
    board = make_board(faults=FaultSettings(claim_race=True, race_pause_ms=50))
    mid = board.post("/api/comments", json=human()).json()["id"]

    async def both() -> list[int]:
        async with httpx.AsyncClient() as client:
            calls = [client.post(board.url + "/api/queue/claim",
                                 json={"messageId": mid, "workerId": w}) for w in ("a", "b")]
            return [r.status_code for r in await asyncio.gather(*calls)]

    assert asyncio.run(both()) == [200, 200]


def test_error_rate_is_seeded(make_board: Callable[..., RunningBoard]) -> None:
    def codes(seed: int) -> list[int]:
        b = make_board(faults=FaultSettings(error_rate=0.5), seed=seed)
        return [b.get("/api/stats").status_code for _ in range(40)]

    first, second = codes(7), codes(7)
    assert first == second
    assert set(first) == {200, 500, 503}


def test_error_rate_spares_admin_and_page(make_board: Callable[..., RunningBoard]) -> None:
    b = make_board(faults=FaultSettings(error_rate=1.0))
    assert b.get("/api/heartbeat").status_code in (500, 503)
    r = b.post("/api/comments", json=human())
    assert r.status_code in (500, 503) and r.json()["error"]
    assert r.headers["access-control-allow-origin"] == "*"
    assert b.get("/api/admin/faults").status_code == 200
    assert b.get("/").status_code == 200 and b.get("/openapi.json").status_code == 200
    assert b.post("/api/admin/faults", json={"error_rate": 0}).json()["error_rate"] == 0
    assert b.get("/api/heartbeat").status_code == 200


def test_latency(make_board: Callable[..., RunningBoard]) -> None:
    b = make_board(faults=FaultSettings(latency_ms=200))
    start = time.monotonic()
    assert b.get("/api/stats").status_code == 200
    assert time.monotonic() - start >= 0.2


def test_stale_reads(make_board: Callable[..., RunningBoard]) -> None:
    now = [0.0]
    b = make_board(faults=FaultSettings(stale_reads_s=10), monotonic=lambda: now[0])
    assert b.get("/api/comments?after=0").json() == []  # snapshot taken now
    b.post("/api/comments", json=human())
    assert b.get("/api/comments?after=0").json() == []  # served from the old snapshot
    assert b.get("/api/stats").json()["cacheSize"] == 1  # the stored cache has it
    now[0] = 10.5
    assert len(b.get("/api/comments?after=0").json()) == 1


def test_fault_switches_validate(board: RunningBoard) -> None:
    r = board.post("/api/admin/faults", json={"cache_race": True, "race_pause_ms": 3})
    assert r.status_code == 200 and r.json()["cache_race"] is True
    assert board.get("/api/admin/faults").json()["race_pause_ms"] == 3
    for bad in ({"cache_race": 1}, {"error_rate": 2}, {"nope": True}, {"latency_ms": -1},
                {"latency_ms": "5"}):
        assert board.post("/api/admin/faults", json=bad).status_code == 400, bad
    assert board.post("/api/admin/faults", content=b"[",
                      headers={"Content-Type": "application/json"}).status_code == 400


def test_admin_token(make_board: Callable[..., RunningBoard]) -> None:
    b = make_board(admin_token="s3cret")
    assert b.get("/api/admin/faults").status_code == 401
    assert b.post("/api/admin/add-to-cache", json={"messageId": "x"}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert b.get("/api/admin/faults", headers=wrong).status_code == 401
    good = {"Authorization": "Bearer s3cret"}
    assert b.get("/api/admin/faults", headers=good).status_code == 200
    assert b.post("/api/admin/add-to-cache", json={"messageId": "x"},
                  headers=good).status_code == 404
    assert b.get("/api/stats").status_code == 200  # the contract endpoints stay open
