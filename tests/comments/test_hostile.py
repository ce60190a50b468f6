"""The client's read paths are total: any JSON (or not-JSON) the server sends gives messages or
counted skips, or one of the project's errors; never another exception, and never an empty
list in place of an answer that could not be read. Records anyone could have stored must not
keep the bot from starting either."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botcluster.comments import DO, KV, CommentsClient
from botcluster.errors import CommentsError

from .fakes import FakeSite, client, human, raw, run
from .inproc import board, pending_human

# Literals no JSON encoder of ours writes, spliced into bodies as raw text.
RAW = [b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity", b"1.8e308", b"9" * 5000,
       b"-" + b"1" * 400, b"[" * 3000 + b"]" * 3000, b'"\\ud800"', b'"\\udfff x"',
       b'{"a": ' * 2000 + b"1" + b"}" * 2000, b"1e-999", b"-0", b'"' + b"w" * 3000 + b'"']
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
FIELDS = ["id", "text", "timestamp", "username", "color", "domain", "message-type", "misc",
          "context", "replyTo", "botParams"]
BOT_FIELDS = ["entity", "priority", "ais", "model", "status", "attempts", "claimedBy",
              "processed"]


@st.composite
def hostile_item(draw: st.DrawFn, index: int) -> bytes:
    """A message with some fields (its own or its botParams') replaced by anything."""
    msg = human(f"1761571872625-i{index:04d}")
    raws: dict[str, bytes] = {}

    def spoil(target: dict[str, Any], key: str) -> None:
        if draw(st.booleans()):
            mark = f"@@{len(raws)}@@"
            raws[mark] = draw(st.sampled_from(RAW))
            target[key] = mark
        else:
            target[key] = draw(VALUES)

    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        spoil(msg, key)
    if isinstance(msg.get("botParams"), dict):
        for key in draw(st.lists(st.sampled_from(BOT_FIELDS), max_size=3, unique=True)):
            spoil(msg["botParams"], key)
    if isinstance(msg.get("id"), str) and not msg["id"].startswith("@@"):
        msg["id"] = f"{msg['id']}-{index}"  # unique, so that every skip is counted
    body = json.dumps(msg, allow_nan=True).encode("utf-8", "surrogatepass")
    for mark, literal in raws.items():
        body = body.replace(json.dumps(mark).encode(), literal)
    return body


@st.composite
def hostile_list(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(0, 4))
    return [draw(hostile_item(i)) for i in range(n)]


def wrap(items: list[bytes], shape: str) -> bytes:
    inner = b"[" + b",".join(items) + b"]"
    return {"bare": inner, "pending": b'{"pending": ' + inner + b', "kvStats": {}}',
            "messages": b'{"messages": ' + inner + b', "version": "1", "count": 0}'}[shape]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=hostile_list(), shape=st.sampled_from(["bare", "pending", "messages"]))
def test_every_item_is_a_message_or_a_counted_skip(items: list[bytes], shape: str) -> None:
    body = wrap(items, shape)
    site = (FakeSite().on("GET", "/api/queue/pending", raw(body))
            .on("GET", "/api/comments", raw(body)))
    hook: list[str] = []

    async def go() -> None:
        async with client(site, on_skip=lambda r, i: hook.append(r)) as api:
            if shape == "pending":
                listing = await api.pending_listing(limit=100)
                assert listing.items == len(items)
                assert len(listing.messages) + len(hook) <= len(items)
                with pytest.raises(CommentsError, match="bad_shape"):
                    await api.recent()  # an object without a message list: not empty
            else:
                got = await api.recent(dedup=False)
                assert len(got) + len(hook) == len(items), (got, hook)

    run(go())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(st.sampled_from(RAW), VALUES.map(
    lambda v: json.dumps(v, allow_nan=True).encode("utf-8", "surrogatepass")),
    st.binary(max_size=50), hostile_item(0)))
def test_any_body_on_any_read_gives_an_answer_or_a_project_error(body: bytes) -> None:
    answer = raw(body)
    site = FakeSite()
    for method, path in [("GET", "/api/queue/pending"), ("GET", "/api/comments"),
                         ("GET", "/api/stats"), ("GET", "/api/heartbeat"),
                         ("POST", "/api/queue/claim"), ("POST", "/api/queue/claim-next"),
                         ("POST", "/api/queue/fail")]:
        site.on(method, path, answer)
    wrapped = raw(b'{"success": true, "message": ' + body + b"}")
    site.on("POST", "/api/queue/claim-next", wrapped)
    mid = "1761571872625-2qa6p4o4k"

    async def go(api: CommentsClient) -> None:
        calls = [api.pending(), api.recent(), api.stats(), api.heartbeat(),
                 api.claim(mid, "w"), api.fail(mid, "x")]
        for call in calls:
            with contextlib.suppress(CommentsError):
                await call
        async with client(site, dialect=DO) as do_api:
            for do_call in (do_api.claim_next("w"), do_api.recent(), do_api.detect()):
                with contextlib.suppress(CommentsError):
                    await do_call

    async def both() -> None:
        async with client(site) as api:
            await go(api)
        async with client(site, dialect="auto", retries=0) as auto:
            with contextlib.suppress(CommentsError):
                await auto.detect()

    run(both())


@pytest.mark.parametrize("dialect", [KV, DO])
def test_detect_survives_a_record_the_server_cannot_serve(tmp_path: Path, dialect: str) -> None:
    """A stored record with a non-finite number made the board answer every GET of
    /api/comments with 500, and the bot could not start: the dialect was told by that GET."""
    async def go() -> None:
        async with board(tmp_path, dialect) as b:
            await b.store(pending_human(1))
            await b.store({**pending_human(2, entity=None), "misc": float("inf")})  # newest
            async with b.client(dialect="auto", retries=1,
                                sleep=lambda s: asyncio.sleep(0)) as api:
                assert await api.detect() == dialect

    asyncio.run(go())


def test_reachable_asks_once_for_a_page_without_messages() -> None:
    site = (FakeSite().on("GET", "/api/stats", httpx.Response(200, json={"cacheSize": 1}),
                          httpx.Response(503, text="down")))

    async def go() -> None:
        async with client(site, retries=4) as api:
            assert await api.reachable() is True
            assert await api.reachable() is False
            assert await api.reachable() is False

    run(go())
    assert len(site.calls("GET", "/api/stats")) == 3


@pytest.mark.parametrize("beat, stats, pending, claim, expected", [
    (raw(b"1761571872625", content_type="text/plain"), None, None, raw(b"{}", 400), KV),
    (raw(b"1761571872625", content_type="text/plain"), None, None, raw(b"Not found", 404),
     "kv-legacy"),
    (raw(b"Not found", 404), httpx.Response(200, json={"cacheSize": 3}), None, None, DO),
    (raw(b"Not found", 404), raw(b"Not found", 404), None, None, None),
    (raw(b"<html>", 200, "text/html"), None, None, None, None),
])
def test_when_every_get_of_messages_fails_pages_without_messages_tell_the_dialect(
        beat: httpx.Response, stats: httpx.Response | None, pending: httpx.Response | None,
        claim: httpx.Response | None, expected: str | None) -> None:
    down = raw(b'{"error": "Internal error"}', 500)
    site = (FakeSite().on("GET", "/api/comments", down).on("GET", "/api/heartbeat", beat)
            .on("GET", "/api/queue/pending", pending or down))
    if stats is not None:
        site.on("GET", "/api/stats", stats)
    if claim is not None:
        site.on("POST", "/api/queue/claim", claim)

    async def go() -> str | None:
        async with client(site, dialect="auto", retries=1) as api:
            try:
                return await api.detect()
            except CommentsError:
                return None

    assert run(go()) == expected
    assert all(s.body in (None, {}) for s in site.calls("POST", "/api/queue/claim"))
