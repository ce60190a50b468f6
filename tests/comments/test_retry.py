"""Timeouts, retries with backoff and jitter, Retry-After, and error translation."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from botcluster.comments import Backoff, FailResult, Reply
from botcluster.comments.http import parse_retry_after
from botcluster.errors import ClaimLost, CommentsRejected, CommentsUnavailable

from .fakes import FakeSite, FakeSleep, client, human, js, raw, run

REPLY = Reply("1761571872700-k2j4h5g6f", "Hello there", 1761571872700, "Guide", "186207080",
              "1761571872625-2qa6p4o4k")
OK_PENDING = js({"pending": [human()], "kvStats": {}})


def fail_5xx(status: int = 503) -> httpx.Response:
    return raw(b"<html>upstream error</html>", status, "text/html")


def test_5xx_then_success_backs_off_exponentially_with_jitter() -> None:
    site = FakeSite().on("GET", "/api/queue/pending", fail_5xx(500), fail_5xx(502),
                         fail_5xx(500), OK_PENDING)
    sleep = FakeSleep()

    async def go() -> None:
        async with client(site, sleep=sleep) as api:
            assert len(await api.pending()) == 1

    run(go())
    assert len(site.calls("GET", "/api/queue/pending")) == 4
    # base 0.5 s doubling: each delay lies in [step/2, step].
    for delay, step in zip(sleep.delays, [0.5, 1.0, 2.0], strict=True):
        assert step / 2 <= delay <= step
    assert len(set(sleep.delays)) == 3


def test_backoff_is_capped_and_retries_run_out_as_unavailable() -> None:
    site = FakeSite().on("GET", "/api/stats", fail_5xx())
    sleep = FakeSleep()

    async def go() -> None:
        async with client(site, sleep=sleep, retries=8,
                          backoff=Backoff(base_s=1.0, cap_s=4.0)) as api:
            with pytest.raises(CommentsUnavailable, match="after 9 attempts"):
                await api.stats()

    run(go())
    assert len(sleep.delays) == 8 and max(sleep.delays) <= 4.0
    assert all(d >= 2.0 for d in sleep.delays[2:])


def test_429_retry_after_is_honoured_and_capped() -> None:
    site = FakeSite().on("POST", "/api/comments",
                         js({"error": "Rate limit"}, 429, **{"Retry-After": "7"}),
                         js({"error": "Rate limit"}, 429, **{"Retry-After": "600"}),
                         js({"error": "Rate limit"}, 429),
                         js({"id": REPLY.id}))
    sleep = FakeSleep()

    async def go() -> None:
        async with client(site, sleep=sleep,
                          backoff=Backoff(base_s=0.5, retry_after_cap_s=60.0)) as api:
            await api.post(REPLY)

    run(go())
    assert sleep.delays[:2] == [7.0, 60.0]
    assert 1.0 <= sleep.delays[2] <= 2.0  # no header: ordinary backoff


def test_429_exhausted_is_unavailable_not_rejected() -> None:
    site = FakeSite().on("POST", "/api/comments", js({"error": "x"}, 429, **{"Retry-After": "1"}))

    async def go() -> None:
        async with client(site, retries=1) as api:
            with pytest.raises(CommentsUnavailable, match="429"):
                await api.post(REPLY)

    run(go())


def test_retry_after_as_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412500.0) == 0.0
    assert parse_retry_after("  12 ", now=0) == 12.0
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after(None, now=0) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_no_retry_on_4xx(status: int) -> None:
    site = FakeSite().on("POST", "/api/comments", js({"error": "no"}, status))
    sleep = FakeSleep()

    async def go() -> None:
        async with client(site, sleep=sleep) as api:
            with pytest.raises(CommentsRejected) as info:
                await api.post(REPLY)
            assert info.value.status == status

    run(go())
    assert len(site.calls("POST", "/api/comments")) == 1 and sleep.delays == []


def test_post_retry_reuses_the_same_client_id() -> None:
    site = FakeSite().on("POST", "/api/comments", httpx.ReadTimeout("slow"),
                         httpx.ConnectError("refused"), fail_5xx(500), js({"id": REPLY.id}))

    async def go() -> None:
        async with client(site) as api:
            await api.post(REPLY)

    run(go())
    bodies = [c.body for c in site.calls("POST", "/api/comments")]
    assert len(bodies) == 4
    assert all(b == REPLY.to_json() for b in bodies)


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                 httpx.RemoteProtocolError("reset"), httpx.ConnectTimeout("t")])
def test_connection_errors_retry_then_translate(exc: Exception) -> None:
    site = FakeSite().on("GET", "/api/queue/pending", exc)
    sleep = FakeSleep()

    async def go() -> None:
        async with client(site, sleep=sleep, retries=3) as api:
            with pytest.raises(CommentsUnavailable) as info:
                await api.pending()
            assert type(exc).__name__ in str(info.value)

    run(go())
    assert len(sleep.delays) == 3


def test_every_call_has_a_deadline() -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return js([])

    site = FakeSite().on("GET", "/api/stats", hang)  # type: ignore[arg-type]

    async def go() -> None:
        async with client(site, timeout_s=0.05, retries=1) as api:
            with pytest.raises(CommentsUnavailable, match="TimeoutError"):
                await api.stats()

    run(go())
    assert len(site.calls("GET", "/api/stats")) == 2


def test_fail_is_not_resent_after_it_may_have_counted() -> None:
    site = FakeSite().on("POST", "/api/queue/fail", fail_5xx(500),
                         js({"success": True, "status": "pending", "attempts": 1}))

    async def go() -> None:
        async with client(site) as api:
            with pytest.raises(CommentsUnavailable):
                await api.fail("m1", "boom")

    run(go())
    assert len(site.calls("POST", "/api/queue/fail")) == 1

    site = FakeSite().on("POST", "/api/queue/fail", httpx.ConnectError("refused"),
                         js({"success": True, "status": "failed", "attempts": 3}))

    async def again() -> None:
        async with client(site) as api:
            assert await api.fail("m1", "boom") == FailResult("failed", 3)

    run(again())
    assert len(site.calls("POST", "/api/queue/fail")) == 2


def test_claim_409_after_a_lost_answer_finds_our_own_claim() -> None:
    ours = human(botParams={"entity": "e", "status": "processing", "claimedBy": "w1"})
    site = (FakeSite()
            .on("POST", "/api/queue/claim", httpx.ReadTimeout("lost"),
                js({"error": "Message not pending"}, 409))
            .on("GET", "/api/comments", js([ours])))

    async def go() -> None:
        async with client(site) as api:
            m = await api.claim(ours["id"], "w1")
            assert m.claimed_by == "w1"
            with pytest.raises(ClaimLost):
                await api.claim(ours["id"], "w2")  # plain 409: no lookup needed

    run(go())
    assert len(site.calls("GET", "/api/comments")) == 1


def test_retry_after_date_uses_the_injected_clock() -> None:
    site = FakeSite().on("GET", "/api/stats",
                         js({}, 503, **{"Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT"}),
                         js({"cacheSize": 0}))
    sleep = FakeSleep()

    async def go() -> None:
        async with client(site, sleep=sleep, clock=lambda: 1445412480.0) as api:
            assert await api.stats() == {"cacheSize": 0}

    run(go())
    assert sleep.delays == [5.0]
