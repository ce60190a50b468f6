"""The list scanner cuts any JSON list answer into the same items a whole-body decode gives,
however the body is chunked; it drops items over the cap and names bodies that are not JSON."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from botcluster.comments.scan import ListScanner, Scanned

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=20)


def scan(body: bytes, chunk: int, *, item: int = 10_000, kept: int = 1_000_000) -> Scanned:
    scanner = ListScanner(max_item_bytes=item, max_kept_bytes=kept)
    for i in range(0, len(body), chunk):
        if not scanner.feed(body[i:i + chunk]):
            break
    return scanner.finish()


def decoded(found: Scanned, key: str) -> list[Any]:
    return [json.loads(i.raw) for i in found.lists[key] if i.raw is not None]


@settings(max_examples=100, deadline=None)
@given(items=st.lists(VALUES, max_size=6), extra=st.dictionaries(st.text(max_size=5), VALUES,
                                                                   max_size=3),
       chunk=st.integers(1, 64), ascii_only=st.booleans())
def test_items_come_out_as_the_whole_decode_has_them(items: list[Any], extra: dict[str, Any],
                                                     chunk: int, ascii_only: bool) -> None:
    bare = json.dumps(items, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    found = scan(bare, chunk)
    assert (found.root, found.error) == ("list", None)
    assert decoded(found, "") == json.loads(bare)
    wrapped = {**{k: v for k, v in extra.items() if not isinstance(v, list)}, "pending": items}
    body = json.dumps(wrapped, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    found = scan(body, chunk)
    assert (found.root, found.error) == ("object", None)
    assert decoded(found, "pending") == json.loads(body)["pending"]
    assert {k: json.loads(v or b"null") for k, v in found.fields.items()} == \
        {k: v for k, v in json.loads(body).items() if k != "pending"}


def test_an_item_over_the_cap_is_dropped_and_the_rest_kept() -> None:
    body = json.dumps({"pending": [{"id": "big", "pad": "x" * 5000}, {"id": "small"}]})
    found = scan(body.encode(), 100, item=1000)
    big, small = found.lists["pending"]
    assert big.raw is None and big.size > 5000 and big.head.startswith(b'{"id": "big"')
    assert json.loads(small.raw or b"") == {"id": "small"}


def test_keeping_more_than_the_cap_is_an_oversize_error() -> None:
    body = json.dumps([{"pad": "x" * 900} for _ in range(10)]).encode()
    found = scan(body, 4096, item=1000, kept=5000)
    assert found.oversize and found.error


def test_bodies_that_are_not_json_are_errors() -> None:
    for body in (b"", b"[1,2", b"[1]]", b"[1] x", b"{\"a\": [}", b"[\"open"):
        assert scan(body, 3).error, body
    for body in (b"<html>", b'"text"', b"42"):
        found = scan(body, 2)
        assert (found.root, found.error, found.scalar) == ("scalar", None, body)


QUOTELESS = st.recursive(st.integers() | st.just({}) | st.booleans() | st.none(),
                         lambda inner: st.lists(inner, max_size=30), max_leaves=200)


@settings(max_examples=60, deadline=None)
@given(items=st.lists(QUOTELESS, min_size=1, max_size=4), chunk=st.integers(1, 4096))
def test_long_runs_without_strings_are_cut_as_the_whole_decode_has_them(
        items: list[Any], chunk: int) -> None:
    body = json.dumps({"pending": [{"id": "x", "pad": item} for item in items]}).encode()
    assert decoded(scan(body, chunk), "pending") == json.loads(body)["pending"]
    broken = body.replace(b"]", b"}", 1)
    if broken != body:
        found = scan(broken, chunk)
        assert found.error or any(i.raw is not None and not _decodes(i.raw)
                                  for i in found.lists.get("pending", []))


def _decodes(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


@pytest.mark.slow
def test_twenty_megabytes_of_hostile_structure_scan_in_seconds() -> None:
    """One empty object after another, escapes after escapes, nesting 100,000 deep: scanned
    one byte at a time in Python this took about 50 s per 20 MB, with the poll loop blocked."""
    base = {"id": "x", "text": "t"}
    bodies = [
        json.dumps({"pending": [{**base, "pad": [{}] * 1_000_000}] * 5 + [base]}).encode(),
        json.dumps({"pending": [{**base, "pad": '"\\' * 1_500_000}] * 5 + [base]}).encode(),
        b'{"pending": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
    ]
    for body in bodies:
        started = time.perf_counter()
        found = scan(body, 65536, item=2 * 1024 * 1024, kept=16 * 1024 * 1024)
        assert found.error is None
        assert time.perf_counter() - started < 15.0
