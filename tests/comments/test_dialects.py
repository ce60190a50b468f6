"""Dialect detection from the shape of a GET, and the behaviour of each dialect."""

from __future__ import annotations

import httpx
import pytest

from botcluster.comments import DO, KV, KV_LEGACY, FailResult, Reply
from botcluster.errors import ClaimLost, CommentsError, CommentsRejected, CommentsUnavailable

from .fakes import FakeSite, client, human, js, raw, run

REPLY = Reply("1761571872700-k2j4h5g6f", "Hello", 1761571872700, "Guide", "186207080",
              "1761571872625-2qa6p4o4k")
QUEUE = js({"pending": [], "kvStats": {}})


@pytest.mark.parametrize("probe, queue, expected", [
    (js([]), QUEUE, KV),
    (js([human()]), QUEUE, KV),
    (js({"comments": [], "hasMore": False}), QUEUE, KV),
    (js([]), raw(b"Not found", 404, "text/plain"), KV_LEGACY),
    (js({"messages": [], "version": "2.1.0", "total": 0}), None, DO),
])
def test_detect_from_the_shape(probe: httpx.Response, queue: httpx.Response | None,
                               expected: str) -> None:
    site = FakeSite().on("GET", "/api/comments", probe)
    if queue is not None:
        site.on("GET", "/api/queue/pending", queue)

    async def go() -> None:
        async with client(site, dialect="auto") as api:
            assert await api.detect() == expected
            assert api.dialect == expected
            assert await api.detect() == expected  # probed once

    run(go())
    probes = site.calls("GET", "/api/comments")
    assert len(probes) == 1 and probes[0].params == {"after": "0", "limit": "1"}
    assert len(site.calls("GET", "/api/queue/pending")) == (0 if expected == DO else 1)


@pytest.mark.parametrize("probe", [
    js({"messages": []}),  # no version: not the DO shape
    js({"error": "x"}),
    raw(b"<html>hello</html>", 200, "text/html"),
    js({"error": "not found"}, 404),
])
def test_unknown_shape_is_unavailable_not_a_guess(probe: httpx.Response) -> None:
    site = FakeSite().on("GET", "/api/comments", probe)

    async def go() -> None:
        async with client(site, dialect="auto") as api:
            with pytest.raises(CommentsUnavailable, match="cannot tell the dialect"):
                await api.detect()
            assert api.dialect == "auto"

    run(go())


def test_kv_whose_queue_probe_is_garbage_is_unavailable() -> None:
    site = (FakeSite().on("GET", "/api/comments", js([]))
            .on("GET", "/api/queue/pending", raw(b"<html>", 200, "text/html")))

    async def go() -> None:
        async with client(site, dialect="auto") as api:
            with pytest.raises(CommentsUnavailable, match="kv-legacy"):
                await api.detect()

    run(go())


@pytest.mark.parametrize("dialect", [KV, KV_LEGACY, DO])
def test_configured_dialect_overrides_detection(dialect: str) -> None:
    site = FakeSite().on("GET", "/api/comments", js({"messages": [], "version": "1"}))

    async def go() -> None:
        async with client(site, dialect=dialect) as api:
            assert await api.detect() == dialect

    run(go())
    assert site.seen == []


def test_unknown_dialect_name_is_refused() -> None:
    with pytest.raises(ValueError, match="kv-legacy"):
        client(FakeSite(), dialect="kv2")


def test_first_call_detects_lazily() -> None:
    site = (FakeSite().on("GET", "/api/comments", js({"messages": [], "version": "1"}))
            .on("POST", "/api/queue/claim-next", js({"success": True, "message": None})))

    async def go() -> None:
        async with client(site, dialect="auto") as api:
            assert await api.claim_next("w1") is None
            assert api.dialect == DO

    run(go())


# --- KV queue mode ----------------------------------------------------------------------------


def test_kv_queue_round_trip() -> None:
    claimed = human(botParams={"entity": "e", "status": "processing", "claimedBy": "w1"})
    site = (FakeSite()
            .on("GET", "/api/queue/pending", js({"pending": [human()], "kvStats": {}}))
            .on("POST", "/api/queue/claim", js({"success": True, "message": claimed}),
                js({"error": "Message is processing"}, 409))
            .on("POST", "/api/queue/complete", js({"success": True}))
            .on("POST", "/api/queue/fail", js({"success": True, "status": "pending",
                                                "attempts": 1}))
            .on("POST", "/api/admin/add-to-cache", js({"success": True}),
                js({"error": "Message not found"}, 404))
            .on("GET", "/api/heartbeat", raw(b"1761571872700", content_type="text/plain")))

    async def go() -> None:
        async with client(site) as api:
            [m] = await api.pending(limit=5)
            assert (await api.claim(m.id, "w1")).claimed_by == "w1"
            with pytest.raises(ClaimLost):
                await api.claim(m.id, "w2")
            assert await api.fail(m.id, "host down") == FailResult("pending", 1)
            await api.complete(m.id)
            assert await api.add_to_cache(REPLY.id) is True
            assert await api.add_to_cache(REPLY.id, admin_token="t0k") is False
            assert await api.heartbeat() == 1761571872700
            with pytest.raises(CommentsError, match="claim-next"):
                await api.claim_next("w1")

    run(go())
    assert site.calls("POST", "/api/queue/claim")[0].body == {
        "messageId": "1761571872625-2qa6p4o4k", "workerId": "w1"}
    assert site.calls("POST", "/api/queue/complete")[0].body == {
        "messageId": "1761571872625-2qa6p4o4k"}
    assert site.calls("POST", "/api/queue/fail")[0].body == {
        "messageId": "1761571872625-2qa6p4o4k", "error": "host down"}
    heals = site.calls("POST", "/api/admin/add-to-cache")
    assert heals[1].headers["authorization"] == "Bearer t0k"
    assert "authorization" not in heals[0].headers


@pytest.mark.parametrize("answer", [js({"error": "Message not found"}, 404),
                                    js({"success": False, "error": "taken"})])
def test_claim_lost_on_404_or_refusal(answer: httpx.Response) -> None:
    site = FakeSite().on("POST", "/api/queue/claim", answer)

    async def go() -> None:
        async with client(site) as api:
            with pytest.raises(ClaimLost):
                await api.claim("m1", "w1")

    run(go())


def test_complete_404_is_rejected_not_success() -> None:
    site = FakeSite().on("POST", "/api/queue/complete", js({"error": "not found"}, 404))

    async def go() -> None:
        async with client(site) as api:
            with pytest.raises(CommentsRejected):
                await api.complete("m1")

    run(go())


def test_recent_params_dedup_and_order() -> None:
    rows = [human("b", timestamp=2_000_000_000_000), human("a"), human("b")]
    site = FakeSite().on("GET", "/api/comments", js(rows))

    async def go() -> None:
        async with client(site) as api:
            assert [m.id for m in await api.recent(after_ms=5, limit=20,
                                                   message_type="AI")] == ["b", "a"]
            assert [m.id for m in await api.recent(dedup=False)] == ["b", "a", "b"]

    run(go())
    first, second = site.calls("GET", "/api/comments")
    assert first.params == {"after": "5", "limit": "20", "type": "AI"}
    assert second.params == {"after": "0", "limit": "1000"}


# --- KV legacy mode ---------------------------------------------------------------------------


def legacy_site() -> FakeSite:
    def bp(processed: bool | None, priority: int | None = None) -> dict[str, object]:
        return {"entity": "e", "processed": processed, "priority": priority}

    rows = [
        human("new-low", timestamp=1761571872900, botParams=bp(False, 10)),
        human("done", timestamp=1761571872800, botParams=bp(True)),
        human("no-flag", timestamp=1761571872700, botParams={"entity": "e"}),
        human("old-default", timestamp=1761571872600, botParams=bp(False)),
        human("mid-default", timestamp=1761571872650, botParams=bp(False, 0)),
        human("no-entity", timestamp=1761571872500, botParams={"processed": False}),
        human("old-low", timestamp=1761571872400, botParams=bp(False, 10)),
    ]
    return (FakeSite().on("GET", "/api/comments", js(rows))
            .on("PATCH", "/api/comments/old-default", js(rows[3]))
            .on("PATCH", "/api/comments/gone", js({"error": "Comment not found"}, 404)))


def test_legacy_selects_processed_false_and_sorts_by_priority() -> None:
    site = legacy_site()

    async def go() -> None:
        async with client(site, dialect=KV_LEGACY) as api:
            ids = [m.id for m in await api.pending()]
            assert ids == ["old-default", "mid-default", "old-low", "new-low"]
            assert [m.id for m in await api.pending(limit=2)] == ids[:2]

    run(go())
    assert site.calls("GET", "/api/comments")[0].params == {
        "after": "0", "limit": "1000", "type": "human"}


def test_legacy_claim_complete_and_fail() -> None:
    site = legacy_site()

    async def go() -> None:
        async with client(site, dialect=KV_LEGACY) as api:
            await api.pending()
            m = await api.claim("old-default", "w1")
            assert m.id == "old-default" and m.processed is False
            with pytest.raises(ClaimLost):
                await api.claim("done", "w1")
            with pytest.raises(ClaimLost):
                await api.claim("unknown", "w1")
            assert await api.fail("old-default", "boom") is None
            await api.complete("old-default")
            with pytest.raises(CommentsRejected) as info:
                await api.complete("gone")
            assert info.value.status == 404

    run(go())
    assert site.calls("PATCH", "/api/comments/old-default")[0].body == {
        "botParams": {"processed": True}}
    assert site.calls("POST", "/api/queue/claim") == []


def test_legacy_claim_without_a_previous_poll_reads_the_cache() -> None:
    site = legacy_site()

    async def go() -> None:
        async with client(site, dialect=KV_LEGACY) as api:
            assert (await api.claim("old-low", "w1")).priority == 10

    run(go())


# --- DO dialect -------------------------------------------------------------------------------


def test_do_dialect() -> None:
    msg = human("abcde12345")
    site = (FakeSite()
            .on("GET", "/api/comments", js({"messages": [msg], "version": "2", "total": 1}))
            .on("GET", "/api/queue/pending", js({"pending": [msg]}))
            .on("POST", "/api/queue/claim-next", js({"success": True, "message": msg}),
                js({"success": True, "message": None}))
            .on("POST", "/api/comments", js({"id": REPLY.id, "timestamp": 1, "status": "success"}),
                js({"id": REPLY.id, "timestamp": 1, "status": "duplicate"})))

    async def go() -> None:
        async with client(site, dialect="auto") as api:
            assert await api.detect() == DO
            assert [m.id for m in await api.recent()] == ["abcde12345"]
            assert [m.id for m in await api.pending()] == ["abcde12345"]
            assert (await api.claim_next("w1")) is not None
            assert await api.claim_next("w1") is None
            await api.post(REPLY)
            await api.post(REPLY)  # duplicate: success
            assert await api.fail("abcde12345", "x") is None
            assert await api.add_to_cache("abcde12345") is False
            assert await api.heartbeat() is None

    run(go())
    assert site.calls("POST", "/api/queue/claim-next")[0].body == {"workerId": "w1"}
    assert site.calls("POST", "/api/queue/fail") == []
    assert site.calls("POST", "/api/admin/add-to-cache") == []
