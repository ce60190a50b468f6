"""Turning HTTP answers into validated values: bodies that are not JSON, are too big or have the
wrong shape are counted and skipped here, and each message of a list is judged on its own."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botcluster.comments.http import Response
from botcluster.comments.message import Message
from botcluster.comments.validate import (
    BAD_SHAPE,
    OVERSIZE_BODY,
    Invalid,
    SkipLog,
    decode_json,
    parse_message,
)

NOTHING = object()  # what `quiet` returns for a body that is not usable JSON


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
        self.skips.skip_invalid(exc, where)
        raise exc

    def json_ok(self, resp: Response, where: str) -> Any:
        """As `json`, after raising `CommentsRejected` for a 4xx answer."""
        if resp.status >= 400:
            raise resp.rejected()
        return self.json(resp, where)

    @staticmethod
    def quiet(resp: Response) -> Any:
        """The JSON body or `NOTHING`, without counting: for probes, where odd answers are
        expected and reported by the caller."""
        if resp.oversize:
            return NOTHING
        try:
            return decode_json(resp.body)
        except Invalid:
            return NOTHING

    def messages(self, resp: Response, keys: Iterable[str], where: str) -> list[Message]:
        """The messages of a list answer, each validated on its own. A body that is not a list
        (or an object holding one under `keys`) is counted and read as empty."""
        try:
            body = self.json(resp, where)
        except Invalid:
            return []
        if isinstance(body, dict):
            body = next((body[k] for k in keys if isinstance(body.get(k), list)), None)
        if not isinstance(body, list):
            self.skips.skip(BAD_SHAPE, "?", f"not a message list: {resp.detail()!r}", where)
            return []
        return self.skips.messages(body, where, max_text_chars=self.max_text_chars)

    def one(self, raw: Any, where: str) -> Message:
        """One message, or `Invalid` (counted)."""
        try:
            return parse_message(raw, max_text_chars=self.max_text_chars)
        except Invalid as exc:
            self.skips.skip_invalid(exc, where)
            raise


def first_of_each(messages: list[Message]) -> list[Message]:
    """First occurrence of each id, in order (the KV cache can hold a message twice)."""
    seen: set[str] = set()
    out = []
    for m in messages:
        if m.id not in seen:
            seen.add(m.id)
            out.append(m)
    return out
