"""The poller against the real board app (in-process): records that hide the rest of the
pending list, and answers that cannot be read, never stop new jobs nor pass for a good poll."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from botcluster.comments import CommentsClient
from botcluster.comments.validate import parse_message
from botcluster.core.journal import JournalState
from botcluster.core.metrics_http import serve
from botcluster.core.poller import OVERSIZE_RELIST_POLLS, PENDING_LIMIT, Poller
from botcluster.core.runtime import Runtime
from tests.comments.inproc import URL, InProcBoard, board, pending_human
from tests.core.helpers import dispatcher, entity, host
from tests.support.procs import LOOPBACK, free_port

FOUR_MB = 4 * 1024 * 1024


def poller(b: InProcBoard, max_window: int = 5000, **client: Any) -> tuple[Poller, Any]:
    d = dispatcher([host("h", loaded=("m1",))])
    config = SimpleNamespace(entities={"e1": entity()}, hosts=())
    return Poller(config, b.client(**client), d, JournalState(),  # type: ignore[arg-type]
                  max_window=max_window), d


def poll_errors(reason: str) -> float:
    value = REGISTRY.get_sample_value("botcluster_poll_errors_total", {"reason": reason})
    return value or 0.0


def queued(d: Any) -> set[str]:
    return set(d.store.jobs)


@pytest.mark.parametrize("dialect", ["kv", "do"])
def test_huge_pending_messages_do_not_hide_a_normal_one(tmp_path: Path, dialect: str) -> None:
    """Five records with 4 MB of botParams each, older than a normal message: 20 MB of
    pending list, over the client's 16 MB cap. The normal message must still become a job."""
    async def go() -> None:
        async with board(tmp_path, dialect) as b:
            for n in range(5):
                await b.store(pending_human(n, pad="x" * FOUR_MB))
            normal = pending_human(10)
            await b.store(normal)
            p, d = poller(b)
            assert await p.poll() == 1
            assert queued(d) == {normal["id"]}
            assert p.client.skipped["oversize_message"] == 5
            assert p.last_error is None

    asyncio.run(go())


@pytest.mark.parametrize("dialect", ["kv", "do"])
def test_a_body_too_big_to_keep_fails_the_poll_then_the_window_shrinks(
        tmp_path: Path, dialect: str) -> None:
    async def go() -> None:
        async with board(tmp_path, dialect) as b:
            for n in range(40):
                await b.store(pending_human(n, pad="y" * 1000))
            p, _ = poller(b, max_body_bytes=20_000)
            before = poll_errors("oversize_body")
            assert await p.poll() == -1
            assert p.last_error is not None and p.last_error.startswith("oversize_body")
            assert p.health()["polls_failing"] == 1 and p.last_success == 0
            assert poll_errors("oversize_body") == before + 1
            while (added := await p.poll()) == -1:
                assert p.limit >= 1
            assert added >= 1 and p.last_error is None and p.limit < PENDING_LIMIT

    asyncio.run(go())


def test_two_hundred_skipped_messages_at_the_head_do_not_hide_the_rest(
        tmp_path: Path) -> None:
    """DO keeps a message for an unknown entity pending for ever; 200 of them at the head of
    the pending list filled the poller's window for good."""
    async def go() -> None:
        async with board(tmp_path, "do") as b:
            for n in range(PENDING_LIMIT):
                await b.store(pending_human(n, entity="nobody-here"))
            normal = pending_human(PENDING_LIMIT + 1)
            await b.store(normal)
            p, d = poller(b)
            for _ in range(3):
                await p.poll()
            assert queued(d) == {normal["id"]}
            assert p.limit == 2 * PENDING_LIMIT

    asyncio.run(go())


def test_healthz_says_why_polls_fail(tmp_path: Path) -> None:
    """A poll over an unreadable body is a failed poll: /healthz goes red once polls are
    stale, and says why they fail."""
    async def go() -> Poller:
        async with board(tmp_path, "kv") as b:
            await b.store(pending_human(1, pad="z" * 5000))
            p, _ = poller(b, max_body_bytes=1000)
            assert await p.poll() == -1
            return p

    p = asyncio.run(go())
    rt = Runtime.__new__(Runtime)  # only the parts /healthz reads
    rt.manager, rt.pool, rt.poller, rt.last_poll_ok = None, None, p, p.last_success
    rt.config = SimpleNamespace(metrics=SimpleNamespace(poll_stale_s=30.0),  # type: ignore
                                bot=SimpleNamespace(poll_interval_s=3.0))
    server = serve(LOOPBACK, free_port(), rt.healthy, rt.healthy, dict)
    try:
        r = httpx.get(f"http://{LOOPBACK}:{server.server_address[1]}/healthz", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert r.status_code == 503
    detail = r.json()
    assert detail["poll_error"].startswith("oversize_body") and detail["polls_failing"] == 1
    assert detail["seconds_since_poll"] is None


def test_recovery_skips_queued_lines_with_wrong_types_and_keeps_the_good_ones() -> None:
    good = asdict(parse_message(pending_human(1)))
    huge = {**asdict(parse_message(pending_human(2))), "priority": 10**400}
    state = JournalState()
    state.queued = {
        good["id"]: good,
        huge["id"]: huge,
        "m-list-id": {**good, "id": ["m-list-id"]},
        "m-entity": {**good, "id": "m-entity", "entity": ["e1"]},
        "m-time": {**good, "id": "m-time", "timestamp": "yesterday"},
        "m-context": {**good, "id": "m-context", "context": [1, 2]},
        "m-other": {**good, "id": "someone-else"},
        "m-text": {**good, "id": "m-text", "text": {"a": 1}},
    }
    d = dispatcher([host("h", loaded=("m1",))])
    config = SimpleNamespace(entities={"e1": entity()}, hosts=())
    p = Poller(config, None, d, state)  # type: ignore[arg-type]
    assert asyncio.run(p.recover()) == 2
    assert queued(d) == {good["id"], huge["id"]}
    assert d.store.jobs[huge["id"]].priority == 1_000_000


def test_past_the_largest_window_new_messages_are_read_by_time(tmp_path: Path) -> None:
    """More skipped messages at the head than the largest window (DO never fails them): new
    messages are still found, by time. A far-future timestamp does not move the cursor past
    now, where it would hide every message after it."""
    async def go() -> None:
        async with board(tmp_path, "do") as b:
            for n in range(300):
                await b.store(pending_human(n, entity="nobody-here"))
            future = pending_human(400, entity="nobody-here")
            future["timestamp"] = int(time.time() * 1000) + 10 * 365 * 86400 * 1000
            await b.store(future)
            p, d = poller(b, max_window=250)
            for _ in range(3):
                assert await p.poll() == 0
            assert p.limit == 250
            normal = {**pending_human(301), "timestamp": int(time.time() * 1000)}
            await b.store(normal)
            assert await p.poll() == 1
            assert queued(d) == {normal["id"]}
            assert p._cursor <= time.time() * 1000

    asyncio.run(go())


@pytest.mark.parametrize("dialect", ["kv", "do"])
def test_a_message_without_a_priority_gets_its_entitys_default(
        tmp_path: Path, dialect: str) -> None:
    """The site's meaning: a missing, null or 0 priority is the entity's `defaultPriority`
    (docs/ENTITIES.md); a priority the poster gave is kept, even one equal to 50. A message
    queued in the journal keeps that meaning across a restart."""
    async def go() -> dict[str, int]:
        async with board(tmp_path, dialect) as b:
            missing = pending_human(1)
            del missing["botParams"]["priority"]
            for m in (missing, pending_human(2, priority=None), pending_human(3, priority=0),
                      pending_human(4, priority=7), pending_human(5, priority=50),
                      pending_human(6, entity="e2")):
                await b.store(m)
            d = dispatcher([host("h", loaded=("m1",))])
            config = SimpleNamespace(hosts=(), entities={
                "e1": replace(entity(), default_priority=80), "e2": entity("e2")})
            p = Poller(config, b.client(), d, JournalState())  # type: ignore[arg-type]
            assert await p.poll() == 6
            return {mid[-1:]: job.priority for mid, job in d.store.jobs.items()}

    assert asyncio.run(go()) == {"1": 80, "2": 80, "3": 80, "4": 7, "5": 50, "6": 50}
    state = JournalState()
    unset = asdict(parse_message({**pending_human(7, priority=0)}))
    state.queued = {unset["id"]: unset}
    d = dispatcher([host("h", loaded=("m1",))])
    config = SimpleNamespace(entities={"e1": replace(entity(), default_priority=5)}, hosts=())
    assert asyncio.run(Poller(config, None, d, state).recover()) == 1  # type: ignore[arg-type]
    assert d.store.jobs[unset["id"]].priority == 5


class Counting(httpx.AsyncBaseTransport):
    """Counts the bytes of each answer, by path, on their way to the client."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.bytes: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        body = await resp.aread()
        self.bytes[request.url.path] += len(body)
        self.calls[request.url.path] += 1
        return httpx.Response(resp.status_code, headers=resp.headers, content=body,
                              request=request)


def test_do_huge_pending_records_are_not_downloaded_again_on_every_poll(
        tmp_path: Path) -> None:
    """DO never fails a message and its pending list has no cursor: five 4 MB records at its
    head came down again with every poll (20 MB every 3 s). Once seen, new messages are read
    by time past them, and the whole list only every OVERSIZE_RELIST_POLLS polls. A message
    posted meanwhile is still queued at the next poll; one whose (poster-given) timestamp is
    older than the time read looks at, at the next read of the whole list."""
    polls = 8

    async def go() -> Counting:
        async with board(tmp_path, "do") as b:
            for n in range(5):
                await b.store(pending_human(n, pad="x" * FOUR_MB))
            counting = Counting(b.transport)
            client = CommentsClient(URL, dialect="do", transport=counting, retries=0)
            d = dispatcher([host("h", loaded=("m1",))])
            config = SimpleNamespace(entities={"e1": entity()}, hosts=())
            p = Poller(config, client, d, JournalState())  # type: ignore[arg-type]
            for _ in range(polls - 1):
                assert await p.poll() == 0 and p.last_error is None
            normal = {**pending_human(10), "timestamp": int(time.time() * 1000)}
            await b.store(normal)
            assert await p.poll() == 1 and queued(d) == {normal["id"]}
            assert counting.calls["/api/queue/pending"] == 1
            # The first list only: the reads by time start past the five.
            assert sum(counting.bytes.values()) < 5 * FOUR_MB + 64 * 1024
            backdated = pending_human(11)
            await b.store(backdated)
            for _ in range(OVERSIZE_RELIST_POLLS - polls):
                assert await p.poll() == 0
            assert await p.poll() == 1 and backdated["id"] in queued(d)
            return counting

    assert polls < OVERSIZE_RELIST_POLLS
    assert asyncio.run(go()).calls["/api/queue/pending"] == 2
