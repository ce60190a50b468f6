"""Malformed server output is counted per reason and skipped; the good messages still arrive."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from botcluster.comments import Message, Reply, new_message_id
from botcluster.comments.validate import Invalid, parse_message
from botcluster.errors import ClaimLost, CommentsRejected, CommentsUnavailable, MalformedMessage

from .fakes import FakeSite, client, human, js, raw, run


def pending_of(*items: Any) -> FakeSite:
    return FakeSite().on("GET", "/api/queue/pending", js({"pending": list(items), "kvStats": {}}))


def test_valid_message_is_parsed_with_defaults() -> None:
    m = parse_message(human())
    assert m == Message(
        id="1761571872625-2qa6p4o4k", text="Why are socks colorful sometimes?",
        timestamp=1761571872625, username="Human", color="080195229", message_type="human",
        domain="saywhatwant.app", reply_to=None,
        context=("Human: hi", "EmotionalGuide: Hello!"), entity="emotional-intelligence",
        priority=5, model=None, ais="EmotionalGuide:186207080", status="pending", attempts=0,
        claimed_by=None, processed=False)
    bare = parse_message({"id": "x1", "text": "hi", "timestamp": 1.0e12, "username": "u",
                          "message-type": "AI", "replyTo": "x0"})
    assert (bare.priority, bare.entity, bare.context, bare.color, bare.processed) == (
        None, None, None, "", None)
    assert bare.timestamp == 10**12 and bare.reply_to == "x0"


@pytest.mark.parametrize("priority, expected", [(None, None), (0, None), (float("nan"), None),
                                                (7, 7), (50, 50), (100, 100)])
def test_priority_missing_or_zero_is_not_given(priority: float | None,
                                                expected: int | None) -> None:
    """Not given (None): the entity's defaultPriority applies (tests/core/test_poller.py)."""
    msg = human()
    msg["botParams"]["priority"] = priority
    assert parse_message(msg).priority == expected


BAD: list[tuple[str, dict[str, Any] | list[int] | str, str]] = [
    ("missing id", {k: v for k, v in human().items() if k != "id"}, "missing_field"),
    ("missing text", {k: v for k, v in human().items() if k != "text"}, "missing_field"),
    ("missing type", {k: v for k, v in human().items() if k != "message-type"},
     "missing_field"),
    ("missing timestamp", {k: v for k, v in human().items() if k != "timestamp"},
     "missing_field"),
    ("id is a number", human(id=12), "wrong_type"),
    ("text is a list", human(text=["a"]), "wrong_type"),
    ("timestamp is a string", human(timestamp="1761571872625"), "wrong_type"),
    ("timestamp is a bool", human(timestamp=True), "wrong_type"),
    ("timestamp is fractional", human(timestamp=1.5), "wrong_type"),
    ("negative timestamp", human(timestamp=-1), "bad_value"),
    ("context of numbers", human(context=[1, 2]), "wrong_type"),
    ("botParams a string", human(botParams="x"), "wrong_type"),
    ("priority a string", human(botParams={"entity": "e", "priority": "5"}), "wrong_type"),
    ("processed a string", human(botParams={"entity": "e", "processed": "false"}),
     "wrong_type"),
    ("unknown type", human(**{"message-type": "system"}), "bad_value"),
    ("empty id", human(id=""), "bad_value"),
    ("id with newline", human(id="a\nb"), "bad_value"),
    ("1 MB of text", human(text="x" * 1_000_000), "oversize_text"),
    ("lone surrogate", human(text="bad \ud800 text"), "invalid_utf8"),
    ("a list, not an object", [1, 2], "not_object"),
    ("a string", "hello", "not_object"),
]


@pytest.mark.parametrize("name, item, reason", BAD, ids=[b[0] for b in BAD])
def test_each_malformed_item_is_skipped_alone(name: str, item: Any, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_message(item)
    assert info.value.reason == reason
    assert isinstance(info.value, MalformedMessage)

    hook: list[tuple[str, str]] = []
    site = pending_of(human("good-1"), item, human("good-2"))

    async def go() -> list[Message]:
        async with client(site, on_skip=lambda r, i: hook.append((r, i))) as api:
            out = await api.pending()
            assert api.skipped == {reason: 1}
            return out

    assert [m.id for m in run(go())] == ["good-1", "good-2"]
    assert hook[0][0] == reason and len(hook) == 1


def test_invalid_utf8_bytes_skip_only_their_message() -> None:
    good = json.dumps(human("good-1")).encode()
    bad = json.dumps(human("bad-1", text="@@@")).encode().replace(b"@@@", b"caf\xe9 \xff")
    body = b'{"pending": [' + good + b"," + bad + b'], "kvStats": {}}'
    site = FakeSite().on("GET", "/api/queue/pending", raw(body))

    async def go() -> None:
        async with client(site) as api:
            assert [m.id for m in await api.pending()] == ["good-1"]
            assert api.skipped == {"invalid_utf8": 1}

    run(go())


@pytest.mark.parametrize("body, ctype, reason", [
    (b"<html><body>502 Bad Gateway</body></html>", "text/html", "not_json"),
    (b"", "application/json", "not_json"),
    (b'{"pending": [', "application/json", "not_json"),
    (b'{"error": "boom"}', "application/json", "bad_shape"),
    (b'"just a string"', "application/json", "bad_shape"),
])
def test_unusable_body_is_an_error_never_an_empty_list(body: bytes, ctype: str,
                                                       reason: str) -> None:
    site = FakeSite().on("GET", "/api/queue/pending", raw(body, content_type=ctype))
    site.on("GET", "/api/comments", raw(body, content_type=ctype))

    async def go() -> None:
        async with client(site) as api:
            with pytest.raises(MalformedMessage, match=reason):
                await api.pending()
            with pytest.raises(MalformedMessage, match=reason):
                await api.recent()
            assert api.skipped == {reason: 2}

    run(go())


def test_one_item_nested_too_deep_costs_that_item_only() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    good = json.dumps(human("good-1")).encode()
    site = FakeSite().on("GET", "/api/queue/pending",
                         raw(b'{"pending": [' + deep + b"," + good + b"]}"))

    async def go() -> None:
        async with client(site) as api:
            assert [m.id for m in await api.pending()] == ["good-1"]
            assert api.skipped == {"not_json": 1}

    run(go())


def test_body_over_the_cap_is_an_error_without_reading_it_all() -> None:
    big = json.dumps({"pending": [human(f"m{i}", text="y" * 900) for i in range(20)]})
    site = pending_of().on("GET", "/api/queue/pending", raw(big.encode()))

    async def go() -> None:
        async with client(site, max_body_bytes=4096) as api:
            with pytest.raises(MalformedMessage, match="oversize_body"):
                await api.pending()
            assert api.skipped == {"oversize_body": 1}

    run(go())


def test_a_message_over_the_item_cap_is_skipped_alone() -> None:
    huge = human("huge-1")
    huge["botParams"]["pad"] = "z" * 50_000
    site = pending_of(huge, human("good-1"), {"id": "huge-2", "pad": "z" * 50_000})

    async def go() -> None:
        async with client(site, max_item_bytes=10_000) as api:
            assert [m.id for m in await api.pending()] == ["good-1"]
            assert api.skipped == {"oversize_message": 2}
            assert [m.id for m in await api.pending()] == ["good-1"]
            assert api.skipped == {"oversize_message": 2}  # named by id: counted once each

    run(go())


def test_html_error_page_on_5xx_is_unavailable_after_retries() -> None:
    page = raw(b"<html>Error 1101 Worker threw exception</html>", 500, "text/html")
    site = FakeSite().on("GET", "/api/queue/pending", page)

    async def go() -> None:
        async with client(site, retries=2) as api:
            with pytest.raises(CommentsUnavailable, match="Error 1101"):
                await api.pending()

    run(go())
    assert len(site.calls("GET", "/api/queue/pending")) == 3


def test_pending_keeps_only_human_messages_for_an_entity_and_dedups() -> None:
    ai = human("ai-1", **{"message-type": "AI", "botParams": None})
    no_entity = human("h-2", botParams={"priority": 3})
    site = pending_of(human("h-1"), ai, no_entity, human("h-1"), human("h-3"))

    async def go() -> None:
        async with client(site) as api:
            assert [m.id for m in await api.pending()] == ["h-1", "h-3"]
            assert [m.id for m in await api.pending(limit=1)] == ["h-1"]
            assert not api.skipped

    run(go())
    assert site.calls("GET", "/api/queue/pending")[0].params == {"limit": "50"}


def test_a_granted_claim_whose_message_cannot_be_read_is_still_granted() -> None:
    """The claim is the server's state change: raising on its unreadable copy of the message
    left the message claimed, and the next attempt lost it to our own claim (409)."""
    deep = b"[" * 5000 + b"]" * 5000
    mid = "1761571872625-2qa6p4o4k"
    site = FakeSite().on(
        "POST", "/api/queue/claim",
        js({"success": True, "message": human(text=None)}),
        raw(b'{"success": true, "message": {"id": "x", "pad": ' + deep + b"}}"),
        raw(b'{"success": true, "message": ' + json.dumps(human()).encode() + b"}"),
        js({"success": False, "error": "no"}),
        raw(b"<html>", 200, "text/html"))

    async def go() -> None:
        async with client(site) as api:
            assert await api.claim(mid, "w1") is None
            assert await api.claim(mid, "w1") is None
            assert api.skipped == {"missing_field": 1, "not_json": 1}
            claimed = await api.claim(mid, "w1")
            assert claimed is not None and claimed.id == mid
            with pytest.raises(ClaimLost):
                await api.claim(mid, "w1")
            with pytest.raises(MalformedMessage, match="not_json"):
                await api.claim(mid, "w1")

    run(go())


def test_a_bad_message_seen_again_is_counted_once() -> None:
    hook: list[tuple[str, str]] = []
    site = pending_of(human("a", text=None), human("b"), {"text": "no id"})

    async def go() -> None:
        async with client(site, on_skip=lambda r, i: hook.append((r, i))) as api:
            for _ in range(3):
                assert [m.id for m in await api.pending()] == ["b"]
            assert api.skipped == {"missing_field": 4}  # "a" once, the id-less item 3 times

    run(go())
    assert hook.count(("missing_field", "a")) == 1


def test_base_url_must_be_http() -> None:
    for bad in ("localhost:8787", "ftp://127.0.0.1", "http://"):
        with pytest.raises(ValueError, match="base_url"):
            client(FakeSite(), base_url=bad)


def test_broken_skip_hook_does_not_break_polling() -> None:
    def hook(reason: str, mid: str) -> None:
        raise RuntimeError("metrics down")

    site = pending_of(human("a"), {"id": "b"}, human("c"))

    async def go() -> None:
        async with client(site, on_skip=hook) as api:
            assert [m.id for m in await api.pending()] == ["a", "c"]

    run(go())


def test_stats_and_heartbeat_shapes() -> None:
    site = (FakeSite().on("GET", "/api/stats", js({"cacheSize": 3}), js([1]))
            .on("GET", "/api/heartbeat", raw(b"1761571872625", content_type="text/plain"),
                raw(b"<html>", content_type="text/html")))

    async def go() -> None:
        async with client(site) as api:
            assert await api.stats() == {"cacheSize": 3}
            with pytest.raises(MalformedMessage):
                await api.stats()
            assert await api.heartbeat() == 1761571872625
            assert await api.heartbeat() is None
            assert api.skipped == {"bad_shape": 2}

    run(go())


def test_4xx_is_rejected_with_status_and_detail() -> None:
    site = FakeSite().on("POST", "/api/comments", js({"error": "Text is required"}, 400))
    reply = Reply("1761571872625-aaaaaaaaa", "", 1761571872625, "Guide", "100100100", "h1")

    async def go() -> None:
        async with client(site) as api:
            with pytest.raises(CommentsRejected) as info:
                await api.post(reply)
            assert info.value.status == 400 and "Text is required" in info.value.detail

    run(go())


def test_reply_json_and_message_ids() -> None:
    reply = Reply("1761571872625-abcdefghi", "Hello", 1761571872700, "Guide", "186207080",
                  "1761571872625-2qa6p4o4k")
    assert reply.to_json() == {
        "id": "1761571872625-abcdefghi", "text": "Hello", "timestamp": 1761571872700,
        "username": "Guide", "color": "186207080", "domain": "saywhatwant.app",
        "language": "en", "message-type": "AI", "misc": "",
        "replyTo": "1761571872625-2qa6p4o4k"}
    a = new_message_id(1761571872625, random.Random(1))
    assert re.fullmatch(r"1761571872625-[0-9a-z]{9}", a)
    assert a == new_message_id(1761571872625, random.Random(1))
    assert new_message_id(5).startswith("0000000000005-")
    assert len({new_message_id(1761571872625) for _ in range(1000)}) == 1000
    with pytest.raises(ValueError):
        new_message_id(10**13)


@pytest.mark.parametrize("literal, expected", [
    (b"1e999", 1_000_000), (b"-1e999", -1_000_000), (b"1" + b"0" * 400, 1_000_000),
    (b"-" + b"9" * 5000, -1_000_000), (b"NaN", None), (b"Infinity", 1_000_000),
    (b"1.8e308", 1_000_000), (b"7.6", 8),
])
def test_any_number_as_priority_is_clamped_never_an_error(literal: bytes,
                                                          expected: int | None) -> None:
    marked = json.dumps(human("odd-1", botParams={"entity": "e", "priority": "@@"}))
    item = marked.encode().replace(b'"@@"', literal)
    site = FakeSite().on("GET", "/api/queue/pending",
                         raw(b'{"pending": [' + item + b"," + json.dumps(human("good-1")).encode()
                             + b"]}"))

    async def go() -> list[Message]:
        async with client(site) as api:
            out = await api.pending()
            assert not api.skipped
            return out

    odd, good = run(go())
    assert (odd.id, odd.priority, good.id) == ("odd-1", expected, "good-1")


@pytest.mark.parametrize("field, literal, reason", [
    ("timestamp", b"1e999", "wrong_type"), ("timestamp", b"9" * 5000, "wrong_type"),
    ("timestamp", b"NaN", "wrong_type"), ("text", b"-Infinity", "wrong_type"),
    ("misc", b"1e999", None), ("color", b"9" * 5000, "wrong_type"),
])
def test_non_finite_or_huge_numbers_cost_their_message_only(field: str, literal: bytes,
                                                            reason: str | None) -> None:
    item = json.dumps(human("odd-1", **{field: "@@"})).encode().replace(b'"@@"', literal)
    good = json.dumps(human("good-1")).encode()
    site = FakeSite().on("GET", "/api/comments", raw(b"[" + item + b"," + good + b"]"))

    async def go() -> list[str]:
        async with client(site) as api:
            out = [m.id for m in await api.recent()]
            assert api.skipped == ({reason: 1} if reason else {})
            return out

    assert run(go()) == (["good-1"] if reason else ["odd-1", "good-1"])


def test_a_stream_past_its_cap_is_an_error_even_when_each_item_was_dropped() -> None:
    """Items over the item cap are not kept, but the stream itself is bounded too."""
    items = [{"id": f"big-{i}", "pad": "q" * 5000} for i in range(10)]
    site = pending_of(*items)

    async def go() -> None:
        async with client(site, max_item_bytes=1000, max_stream_bytes=20_000) as api:
            with pytest.raises(MalformedMessage, match="oversize_body"):
                await api.pending()
        async with client(site, max_item_bytes=1000) as api:
            assert await api.pending() == []  # read to the end: ten counted skips, no error
            assert api.skipped == {"oversize_message": 10}

    run(go())
