"""The client against the real embedded board, KV dialect: every row of CONTRACT.md section 1,
quirks included. The raw httpx calls check the server; the client calls check the client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from botcluster.comments import KV, KV_LEGACY, CommentsClient, FailResult, Reply, new_message_id
from botcluster.errors import ClaimLost, CommentsRejected

from .board import board, human_msg, new_id, post_human
from .fakes import run

T = TypeVar("T")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with board(tmp_path_factory.mktemp("kv")) as u:
        yield u


def with_client(url: str, fn: Callable[[CommentsClient], Awaitable[T]],
                dialect: str = "auto") -> T:
    async def go() -> T:
        async with CommentsClient(url, dialect=dialect, timeout_s=5, retries=1) as api:
            return await fn(api)
    return run(go())


def reply_to(msg: dict[str, Any], text: str = "Socks like to party.") -> Reply:
    now = int(time.time() * 1000)
    return Reply(new_message_id(now), text, now, "EmotionalGuide", "186207080", msg["id"])


def cache_ids(url: str, **params: str) -> list[str]:
    r = httpx.get(f"{url}/api/comments", params={"after": "0", "limit": "1000", **params})
    assert r.status_code == 200 and isinstance(r.json(), list)
    return [m["id"] for m in r.json()]


def test_detects_kv(url: str) -> None:
    assert with_client(url, lambda api: api.detect()) == KV


def test_get_after_is_a_bare_array_newest_first_with_type_and_limit(url: str) -> None:
    a, b, c = (post_human(url, entity=None) for _ in range(3))
    ids = cache_ids(url, after=str(a["timestamp"] - 1))
    assert ids[:3] == [c["id"], b["id"], a["id"]]
    # more than `limit` match: the oldest are dropped
    assert cache_ids(url, after=str(a["timestamp"] - 1), limit="2") == [c["id"], b["id"]]
    recent = with_client(url, lambda api: api.recent(after_ms=a["timestamp"] - 1, limit=2))
    assert [m.id for m in recent] == [c["id"], b["id"]]
    humans = with_client(url, lambda api: api.recent(message_type="human"))
    assert all(m.message_type == "human" for m in humans) and len(humans) >= 3
    ais = with_client(url, lambda api: api.recent(message_type="AI"))
    assert all(m.message_type == "AI" for m in ais)


def test_get_without_after_is_page_mode_oldest_first(url: str) -> None:
    post_human(url, entity=None)
    body = httpx.get(f"{url}/api/comments", params={"limit": "1000"}).json()
    assert set(body) >= {"comments", "hasMore"} and isinstance(body["hasMore"], bool)
    stamps = [m["timestamp"] for m in body["comments"]]
    assert stamps == sorted(stamps)


def test_post_normalises_and_returns_the_stored_message(url: str) -> None:
    msg = human_msg(text="  a\n\n b\t c  ", username="x" * 30)
    r = httpx.post(f"{url}/api/comments", json=msg)
    assert r.status_code == 200
    stored = r.json()
    assert stored["id"] == msg["id"] and stored["timestamp"] == msg["timestamp"]
    assert stored["text"] == "a b c" and stored["username"] == "x" * 16
    bp = stored["botParams"]
    assert (bp["status"], bp["claimedBy"], bp["claimedAt"], bp["attempts"]) == (
        "pending", None, None, 0)
    assert bp["entity"] == "emotional-intelligence" and bp["processed"] is False
    sent = human_msg(botParams={"entity": "e", "priority": 7, "ais": "Guide:100100100",
                                "model": "m@f16", "status": "complete", "attempts": 5})
    kept = httpx.post(f"{url}/api/comments", json=sent).json()["botParams"]
    assert (kept["priority"], kept["ais"], kept["model"]) == (7, "Guide:100100100", "m@f16")
    assert (kept["status"], kept["attempts"]) == ("pending", 0)
    long = httpx.post(f"{url}/api/comments", json=human_msg(text="y" * 1500)).json()
    assert len(long["text"]) == 1000
    empty = httpx.post(f"{url}/api/comments", json=human_msg(text="  \n "))
    assert empty.status_code == 400 and "error" in empty.json()


def test_client_post_same_id_twice_gives_two_cache_rows(url: str) -> None:
    msg = post_human(url)
    reply = reply_to(msg)

    async def go(api: CommentsClient) -> tuple[list[str], list[str]]:
        await api.post(reply)
        await api.post(reply)
        rows = await api.recent(message_type="AI", dedup=False)
        return [m.id for m in rows], [m.id for m in await api.recent(message_type="AI")]

    raw_ids, deduped = with_client(url, go)
    assert raw_ids.count(reply.id) == 2
    assert deduped.count(reply.id) == 1
    [mine] = [m for m in with_client(url, lambda api: api.recent()) if m.id == reply.id]
    assert (mine.reply_to, mine.message_type, mine.domain) == (msg["id"], "AI",
                                                               "saywhatwant.app")


def test_patch_sets_processed_only_and_keeps_status_pending(url: str) -> None:
    msg = post_human(url)
    bad = httpx.patch(f"{url}/api/comments/{msg['id']}",
                      json={"botParams": {"processed": True, "status": "complete"}})
    assert bad.status_code == 400
    assert httpx.patch(f"{url}/api/comments/{msg['id']}", json={"text": "x"}).status_code == 400
    missing = httpx.patch(f"{url}/api/comments/nope-{new_id()}",
                          json={"botParams": {"processed": True}})
    assert missing.status_code == 404
    r = httpx.patch(f"{url}/api/comments/{msg['id']}", json={"botParams": {"processed": False}})
    assert r.status_code == 200 and r.json()["id"] == msg["id"]
    assert r.json()["text"] == msg["text"] and r.json()["botParams"]["processed"] is False
    with_client(url, lambda api: api.complete(msg["id"]), dialect=KV_LEGACY)
    [m] = [m for m in with_client(url, lambda api: api.recent()) if m.id == msg["id"]]
    assert (m.processed, m.status) == (True, "pending")
    # ...so the queue still lists it
    assert msg["id"] in [m.id for m in with_client(url, lambda api: api.pending(1000))]
    with pytest.raises(CommentsRejected) as info:
        with_client(url, lambda api: api.complete(f"nope-{new_id()}"), dialect=KV_LEGACY)
    assert info.value.status == 404


def test_pending_only_pending_sorted_by_priority_then_age(url: str) -> None:
    low = post_human(url, priority=10)
    default = post_human(url, priority=None)
    zero = post_human(url, priority=0)
    high = post_human(url, priority=90)
    post_human(url, entity=None)  # no entity: never pending
    done = post_human(url, priority=99)
    with_client(url, lambda api: api.complete(done["id"]))
    raw = httpx.get(f"{url}/api/queue/pending", params={"limit": "1000"}).json()
    assert set(raw) >= {"pending", "kvStats"}
    ours = {low["id"], default["id"], zero["id"], high["id"], done["id"]}
    ids = [m.id for m in with_client(url, lambda api: api.pending(1000)) if m.id in ours]
    assert ids == [high["id"], default["id"], zero["id"], low["id"]]
    assert len(httpx.get(f"{url}/api/queue/pending").json()["pending"]) <= 10  # default limit


def test_claim_complete_and_the_second_claim_409(url: str) -> None:
    msg = post_human(url)

    async def go(api: CommentsClient) -> None:
        m = await api.claim(msg["id"], "w1")
        assert (m.status, m.claimed_by) == ("processing", "w1")
        with pytest.raises(ClaimLost):
            await api.claim(msg["id"], "w2")
        with pytest.raises(ClaimLost):
            await api.claim(f"nope-{new_id()}", "w1")
        assert msg["id"] not in [p.id for p in await api.pending(1000)]
        await api.complete(msg["id"])
        [cached] = [c for c in await api.recent() if c.id == msg["id"]]
        assert (cached.status, cached.processed) == ("complete", True)
        with pytest.raises(ClaimLost):
            await api.claim(msg["id"], "w3")  # 409: not pending any more
        with pytest.raises(CommentsRejected) as info:
            await api.complete(f"nope-{new_id()}")
        assert info.value.status == 404

    with_client(url, go)
    r = httpx.post(f"{url}/api/queue/claim", json={"messageId": msg["id"]})
    assert r.status_code == 400
    r = httpx.post(f"{url}/api/queue/complete", json={"messageId": msg["id"]})
    assert (r.status_code, r.json()["success"]) == (200, True)
    assert httpx.post(f"{url}/api/queue/complete", json={}).status_code == 400


def test_complete_sets_processed_whatever_the_status(url: str) -> None:
    msg = post_human(url)
    with_client(url, lambda api: api.complete(msg["id"]))  # never claimed
    [m] = [m for m in with_client(url, lambda api: api.recent()) if m.id == msg["id"]]
    assert (m.status, m.processed) == ("complete", True)


def test_fail_three_times_is_failed(url: str) -> None:
    msg = post_human(url)

    async def go(api: CommentsClient) -> list[FailResult | None]:
        out = []
        for _ in range(3):
            await api.claim(msg["id"], "w1")
            out.append(await api.fail(msg["id"], "host down"))
        return out

    assert with_client(url, go) == [FailResult("pending", 1), FailResult("pending", 2),
                                    FailResult("failed", 3)]
    assert msg["id"] not in [m.id for m in with_client(url, lambda api: api.pending(1000))]
    with pytest.raises(CommentsRejected) as info:
        with_client(url, lambda api: api.fail(f"nope-{new_id()}", "x"))
    assert info.value.status == 404
    assert httpx.post(f"{url}/api/queue/fail", json={}).status_code == 400


def test_fail_releases_a_claim_back_to_pending(url: str) -> None:
    msg = post_human(url)

    async def go(api: CommentsClient) -> None:
        await api.claim(msg["id"], "w1")
        assert await api.fail(msg["id"], "worker died") == FailResult("pending", 1)
        m = await api.claim(msg["id"], "w2")
        assert (m.claimed_by, m.attempts) == ("w2", 1)

    with_client(url, go)


def test_add_to_cache_duplicates_and_404(url: str) -> None:
    msg = post_human(url)

    async def go(api: CommentsClient) -> None:
        assert await api.add_to_cache(msg["id"]) is True
        assert await api.add_to_cache(f"nope-{new_id()}") is False
        rows = [m.id for m in await api.recent(dedup=False)]
        assert rows.count(msg["id"]) == 2

    with_client(url, go)
    r = httpx.post(f"{url}/api/admin/add-to-cache", json={"messageId": msg["id"]})
    assert r.json()["success"] is True
    assert httpx.post(f"{url}/api/admin/add-to-cache", json={}).status_code == 400


def test_heartbeat_stats_cors_options_and_unknown_paths(url: str) -> None:
    before = with_client(url, lambda api: api.heartbeat())
    post_human(url)
    after = with_client(url, lambda api: api.heartbeat())
    assert isinstance(after, int) and after > (before or 0) - 1
    assert abs(after - time.time() * 1000) < 60_000
    hb = httpx.get(f"{url}/api/heartbeat")
    assert hb.headers["content-type"].startswith("text/plain")
    stats = with_client(url, lambda api: api.stats())
    assert isinstance(stats["cacheSize"], int) and 0 < stats["cacheSize"] <= 200
    for path in ("/api/comments", "/api/queue/claim", "/anything/at/all"):
        opt = httpx.options(f"{url}{path}")
        assert (opt.status_code, opt.content) == (200, b"")
        assert opt.headers.get("access-control-allow-origin") == "*"
    assert httpx.get(f"{url}/api/stats").headers.get("access-control-allow-origin") == "*"
    for path in ("/health", f"/api/comments/{new_id()}", "/nope"):
        r = httpx.get(f"{url}{path}")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain"), path


def test_legacy_mode_against_the_board(url: str) -> None:
    msg = post_human(url, priority=100)

    async def go(api: CommentsClient) -> None:
        todo = await api.pending(1000)
        assert msg["id"] in [m.id for m in todo]
        assert all(m.processed is False and m.entity for m in todo)
        m = await api.claim(msg["id"], "w1")
        await api.post(reply_to(msg))
        await api.complete(m.id)
        assert msg["id"] not in [m.id for m in await api.pending(1000)]
        with pytest.raises(ClaimLost):
            await api.claim(msg["id"], "w1")

    with_client(url, go, dialect=KV_LEGACY)


def test_fresh_board_heartbeat_zero_and_rate_limit(tmp_path: Path) -> None:
    with board(tmp_path) as u:
        assert with_client(u, lambda api: api.heartbeat()) == 0
        assert httpx.get(f"{u}/api/stats").json()["cacheSize"] == 0
        statuses = []
        for _ in range(11):
            msg = human_msg(domain="example.org")
            r = httpx.post(f"{u}/api/comments", json=msg)
            statuses.append(r.status_code)
        assert statuses[:10] == [200] * 10 and statuses[10] == 429
        assert r.headers.get("retry-after") == "60"
        # checked before validation: an empty text is 429, not 400
        r = httpx.post(f"{u}/api/comments", json=human_msg(domain="example.org", text=""))
        assert r.status_code == 429
        # the bot's domain is exempt, and so is the site's own Origin
        with_client(u, lambda api: api.post(reply_to(human_msg())))
        r = httpx.post(f"{u}/api/comments", json=human_msg(domain="example.org"),
                       headers={"origin": "https://saywhatwant.app"})
        assert r.status_code == 200


def test_cache_holds_200(tmp_path: Path) -> None:
    with board(tmp_path) as u:
        async def fill() -> list[int]:
            async with httpx.AsyncClient(base_url=u, timeout=10) as h:
                rs = await asyncio.gather(*(h.post("/api/comments", json=human_msg(entity=None))
                                            for _ in range(205)))
                return [r.status_code for r in rs]
        assert run(fill()) == [200] * 205
        assert with_client(u, lambda api: api.stats())["cacheSize"] == 200
        assert len(with_client(u, lambda api: api.recent())) == 200


def test_client_survives_a_board_that_fails_often(tmp_path: Path) -> None:
    with board(tmp_path, "--error-rate", "0.5", "--seed", "3") as u:
        async def go() -> int:
            async with CommentsClient(u, timeout_s=5, retries=8,
                                      sleep=_no_wait) as api:
                await api.detect()
                for _ in range(10):
                    msg = human_msg()
                    await api.post(reply_to(msg))
                return len(await api.recent(message_type="AI"))
        assert run(go()) == 10


async def _no_wait(seconds: float) -> None:
    return None


class LoseAnswers(httpx.AsyncBaseTransport):
    """A real transport that delivers requests to `path` but loses the first `n` answers, as a
    connection reset after the server acted would."""

    def __init__(self, path: str, n: int = 1) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.path = path
        self.left = n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path == self.path and self.left > 0:
            self.left -= 1
            await response.aclose()
            raise httpx.ReadError("connection reset after the request was sent")
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_claim_whose_answer_was_lost_is_still_ours(url: str) -> None:
    msg = post_human(url)

    async def go() -> None:
        transport = LoseAnswers("/api/queue/claim")
        async with CommentsClient(url, dialect=KV, transport=transport, sleep=_no_wait) as api:
            m = await api.claim(msg["id"], "w1")  # the retry sees 409: our own claim
            assert (m.id, m.claimed_by) == (msg["id"], "w1")
        async with CommentsClient(url, dialect=KV,
                                  transport=LoseAnswers("/api/queue/claim"),
                                  sleep=_no_wait) as other:
            with pytest.raises(ClaimLost):
                await other.claim(msg["id"], "w2")  # someone else's: lost for real

    run(go())


def test_post_whose_answer_was_lost_is_resent_with_the_same_id(url: str) -> None:
    msg = post_human(url)
    reply = reply_to(msg)

    async def go() -> list[str]:
        transport = LoseAnswers("/api/comments")
        async with CommentsClient(url, dialect=KV, transport=transport, sleep=_no_wait) as api:
            await api.post(reply)
            return [m.id for m in await api.recent(message_type="AI", dedup=False)]

    rows = run(go())
    assert rows.count(reply.id) == 2  # the record once, the cache twice: recent() dedups


def test_replies_lost_to_the_cache_race_are_healed(tmp_path: Path) -> None:
    """CONTRACT.md 1: concurrent POSTs erase each other from the cache; add-to-cache, one at a
    time and repeated until the id shows up, makes every reply visible."""
    with board(tmp_path, "--cache-race", "--race-pause-ms", "20") as u:
        msg = post_human(u)
        replies = [reply_to(msg, f"reply {i}") for i in range(12)]

        async def go() -> tuple[int, int]:
            async with CommentsClient(u, timeout_s=5) as api:
                await asyncio.gather(*(api.post(r) for r in replies))
                wanted = {r.id for r in replies}
                seen = {m.id for m in await api.recent(message_type="AI")}
                lost = len(wanted - seen)
                for _ in range(20):
                    missing = wanted - {m.id for m in await api.recent(message_type="AI")}
                    if not missing:
                        break
                    for mid in sorted(missing):
                        assert await api.add_to_cache(mid) is True
                return lost, len(missing)

        lost, still_missing = run(go())
        assert lost > 0, "the board did not reproduce the race"
        assert still_missing == 0
