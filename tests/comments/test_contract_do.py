"""The client against the real embedded board, later (Durable Objects) dialect: CONTRACT.md s. 2."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest

from botcluster.comments import DO, CommentsClient, Reply, new_message_id
from botcluster.errors import ClaimLost, CommentsError

from .board import board, human_msg, new_id, post_human
from .fakes import run

T = TypeVar("T")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with board(tmp_path_factory.mktemp("do"), "--dialect", "do") as u:
        yield u


def with_client(url: str, fn: Callable[[CommentsClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with CommentsClient(url, timeout_s=5, retries=1) as api:
            return await fn(api)
    return run(go())


def reply_to(msg: dict[str, Any]) -> Reply:
    now = int(time.time() * 1000)
    return Reply(new_message_id(now), "Hello!", now, "EmotionalGuide", "186207080", msg["id"])


def test_detects_do_from_the_get_shape(url: str) -> None:
    assert with_client(url, lambda api: api.detect()) == DO
    body = httpx.get(f"{url}/api/comments", params={"after": "0", "limit": "1"}).json()
    assert isinstance(body, dict) and {"messages", "version"} <= set(body)


def test_get_after_and_since_newest_first(url: str) -> None:
    a, b = post_human(url), post_human(url)
    for key in ("after", "since"):
        body = httpx.get(f"{url}/api/comments", params={key: str(a["timestamp"] - 1)}).json()
        ids = [m["id"] for m in body["messages"]]
        assert ids.index(b["id"]) < ids.index(a["id"]), key
    recent = [m.id for m in with_client(url, lambda api: api.recent())]
    assert recent.index(b["id"]) < recent.index(a["id"])


def test_post_is_idempotent_and_duplicate_is_success(url: str) -> None:
    msg = post_human(url)
    reply = reply_to(msg)
    first = httpx.post(f"{url}/api/comments", json=reply.to_json()).json()
    assert (first["id"], first["status"]) == (reply.id, "success")
    assert isinstance(first["timestamp"], int)
    again = httpx.post(f"{url}/api/comments", json=reply.to_json()).json()
    assert again["status"] == "duplicate"
    with_client(url, lambda api: api.post(reply))  # a third time, through the client

    rows = with_client(url, lambda api: api.recent(message_type="AI", dedup=False))
    assert [m.id for m in rows].count(reply.id) == 1  # no cache race, no duplicate rows


def test_generated_ids_are_10_base36_chars(url: str) -> None:
    msg = human_msg()
    del msg["id"]
    r = httpx.post(f"{url}/api/comments", json=msg)
    assert r.status_code == 200 and re.fullmatch(r"[a-z0-9]{10}", r.json()["id"])


def test_queue_pending_claim_complete(url: str) -> None:
    low, high = post_human(url, priority=5), post_human(url, priority=95)

    async def go(api: CommentsClient) -> None:
        ids = [m.id for m in await api.pending(1000)]
        assert ids.index(high["id"]) < ids.index(low["id"])
        m = await api.claim(low["id"], "w1")
        assert m.claimed_by == "w1"
        with pytest.raises(ClaimLost):
            await api.claim(low["id"], "w2")
        with pytest.raises(ClaimLost):
            await api.claim(f"nope-{new_id()}", "w2")
        await api.complete(low["id"])
        assert low["id"] not in [p.id for p in await api.pending(1000)]

    with_client(url, go)


def test_claim_next_takes_each_message_once(url: str) -> None:
    posted = {post_human(url)["id"] for _ in range(3)}

    async def go(api: CommentsClient) -> list[str]:
        got = []
        while (m := await api.claim_next("w1")) is not None:
            got.append(m.id)
            assert m.claimed_by == "w1"
            await api.complete(m.id)
        return got

    got = with_client(url, go)
    assert posted <= set(got) and len(got) == len(set(got))


def test_no_fail_no_add_to_cache_no_heartbeat(url: str) -> None:
    msg = post_human(url)

    async def go(api: CommentsClient) -> None:
        assert await api.fail(msg["id"], "x") is None
        assert await api.add_to_cache(msg["id"]) is False
        assert await api.heartbeat() is None
        assert isinstance(await api.stats(), dict)

    with_client(url, go)
    for path in ("/api/queue/fail", "/api/admin/add-to-cache"):
        assert httpx.post(f"{url}{path}", json={"messageId": msg["id"]}).status_code == 404
    assert httpx.get(f"{url}/api/heartbeat").status_code == 404


def test_claim_next_is_refused_by_a_kv_client(url: str) -> None:
    async def go() -> None:
        async with CommentsClient(url, dialect="kv", retries=0) as api:
            with pytest.raises(CommentsError, match="claim-next"):
                await api.claim_next("w1")
    run(go())
