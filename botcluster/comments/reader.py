"""Turning HTTP answers into validated values.

A list answer arrives cut into items (scan.py); each item is decoded and validated on its own,
so one bad record costs that record only: it is counted and skipped. A body that cannot be read
at all (not JSON, not a list, too big) is never taken for an empty list: it is counted and
raised as `Invalid`, a `CommentsError`, so that the caller's poll fails and says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botcluster.comments.http import Response
from botcluster.comments.message import Message
from botcluster.comments.scan import Item, Scanned
from botcluster.comments.validate import (
    BAD_SHAPE,
    NOT_JSON,
    OVERSIZE_BODY,
    OVERSIZE_MESSAGE,
    Invalid,
    SkipLog,
    decode_json,
    parse_message,
)

NOTHING = object()  # what `quiet` returns for a body that is not usable JSON
_ID_IN_HEAD = re.compile(rb'"id"\s*:\s*"([^"\\]{1,128})"')


@dataclass(frozen=True)
class Listing:
    """The valid messages of a list answer, and how many items the list had in all."""

    messages: list[Message]
    items: int
    oversize_ids: tuple[str, ...] = ()  # items too big to read, by id ("?" when unknown)


class Reader:
    """Reads answers for one client; every skip goes to its `SkipLog`."""

    def __init__(self, skips: SkipLog, *, max_text_chars: int, max_body_bytes: int) -> None:
        self.skips = skips
        self.max_text_chars = max_text_chars
        self.max_body_bytes = max_body_bytes

    def json(self, resp: Response, where: str) -> Any:
        """The JSON body; raises `Invalid` (already counted) when there is none."""
        if resp.oversize:
            exc = Invalid(OVERSIZE_BODY, f"body over {self.max_body_bytes} bytes")
        else:
            try:
                return decode_json(resp.body)
            except Invalid as e:
                exc = e
        raise self._counted(exc, where)

    def json_ok(self, resp: Response, where: str) -> Any:
        """As `json`, after raising `CommentsRejected` for a 4xx answer."""
        if resp.status >= 400:
            raise resp.rejected()
        return self.json(resp, where)

    @staticmethod
    def quiet(resp: Response) -> Any:
        """The JSON body or `NOTHING`, without counting: for probes, where odd answers are
        expected and reported by the caller. A scanned list answer gives its skeleton: a
        list, or an object with `[]` for each list and None for each other value."""
        found = resp.scanned
        if resp.oversize or (found is not None and found.error):
            return NOTHING
        if found is not None and found.root != "scalar":
            if found.root == "list":
                return []
            return {**{k: None for k in found.fields}, **{k: [] for k in found.lists}}
        try:
            return decode_json(found.scalar if found is not None else resp.body)
        except Invalid:
            return NOTHING

    def messages(self, resp: Response, keys: Iterable[str], where: str) -> list[Message]:
        return self.listing(resp, keys, where).messages

    def listing(self, resp: Response, keys: Iterable[str], where: str) -> Listing:
        """The messages of a list answer (a list, or an object holding one under `keys`),
        each validated on its own. Raises `Invalid` (counted) when the body is unreadable."""
        found = resp.scanned
        if resp.oversize or found is None:
            raise self._counted(Invalid(OVERSIZE_BODY, f"list answer over {self.max_body_bytes}"
                                        " bytes to keep, or over the stream cap"), where)
        if found.error:
            raise self._counted(Invalid(OVERSIZE_BODY if found.oversize else NOT_JSON,
                                        f"{found.error}: {resp.detail()!r}"), where)
        items = _items_of(found, keys)
        if items is None:
            reason = BAD_SHAPE if self.quiet(resp) is not NOTHING else NOT_JSON
            raise self._counted(Invalid(reason, f"not a message list: {resp.detail()!r}"),
                                where)
        out: list[Message] = []
        oversize: list[str] = []
        for item in items:
            try:
                out.append(self._item(item))
            except Invalid as exc:
                self.skips.skip_invalid(exc, where)
                if exc.reason == OVERSIZE_MESSAGE:
                    oversize.append(exc.message_id)
        return Listing(out, len(items), tuple(oversize))

    def fields(self, resp: Response, where: str) -> dict[str, Any]:
        """The values of an object answer, each decoded on its own (`NOTHING` for one that
        cannot be); raises `Invalid` (counted) when the answer is not an object."""
        found = resp.scanned
        if resp.oversize or found is None or found.error or found.root != "object":
            body = self.quiet(resp)
            reason = OVERSIZE_BODY if resp.oversize else (
                NOT_JSON if body is NOTHING else BAD_SHAPE)
            raise self._counted(Invalid(reason, f"not an object: {resp.detail()!r}"), where)
        out: dict[str, Any] = {k: [] for k in found.lists}
        for key, raw in found.fields.items():
            try:
                out[key] = NOTHING if raw is None else decode_json(raw)
            except Invalid:
                out[key] = NOTHING
        return out

    def _item(self, item: Item) -> Message:
        if item.raw is None:
            raise Invalid(OVERSIZE_MESSAGE, f"{item.size} bytes", _id_in(item.head))
        try:
            value = decode_json(item.raw)
        except Invalid as exc:
            raise Invalid(exc.reason, exc.detail, _id_in(item.raw[:512])) from None
        return parse_message(value, max_text_chars=self.max_text_chars)

    def one(self, raw: Any, where: str) -> Message:
        """One message, or `Invalid` (counted)."""
        try:
            return parse_message(raw, max_text_chars=self.max_text_chars)
        except Invalid as exc:
            self.skips.skip_invalid(exc, where)
            raise

    def _counted(self, exc: Invalid, where: str) -> Invalid:
        self.skips.skip_invalid(exc, where)
        return exc


def _items_of(found: Scanned, keys: Iterable[str]) -> list[Item] | None:
    if found.root == "list":
        return found.lists.get("", [])
    if found.root == "object":
        return next((found.lists[k] for k in keys if k in found.lists), None)
    return None


def _id_in(head: bytes) -> str:
    """The id of an item that could not be decoded, read from its first bytes, else "?"."""
    match = _ID_IN_HEAD.search(head)
    if match is None:
        return "?"
    return match.group(1).decode("utf-8", errors="replace")


def first_of_each(messages: list[Message]) -> list[Message]:
    """First occurrence of each id, in order (the KV cache can hold a message twice)."""
    seen: set[str] = set()
    out = []
    for m in messages:
        if m.id not in seen:
            seen.add(m.id)
            out.append(m)
    return out
