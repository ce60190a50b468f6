"""Validation of everything the server sends. The server is untrusted input.

A bad message is rejected with a short, bounded `reason` (a metric label) and a human `detail`;
the caller counts it and moves on to the next message. Nothing here raises anything but
`MalformedMessage`.
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botcluster.comments.message import Message
from botcluster.config.model import MAX_TEXT_CHARS
from botcluster.errors import MalformedMessage

log = logging.getLogger(__name__)

# Skip reasons (bounded set: they become metric labels).
NOT_JSON = "not_json"
BAD_SHAPE = "bad_shape"
NOT_OBJECT = "not_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
BAD_VALUE = "bad_value"
OVERSIZE_TEXT = "oversize_text"
OVERSIZE_BODY = "oversize_body"
OVERSIZE_MESSAGE = "oversize_message"
INVALID_UTF8 = "invalid_utf8"

MESSAGE_TYPES = ("human", "AI")
# The server cuts usernames to 16; these caps only catch garbage, so they are generous.
MAX_SHORT_CHARS = 256
MAX_CONTEXT_LINES = 1000
MAX_ID_CHARS = 128
# Priorities are clamped into this range, so that no number the server sends (1e308, 10**400,
# Infinity from a non-JavaScript server) can overflow the queue's float ranks.
MAX_PRIORITY = 1_000_000
MAX_ATTEMPTS = 1_000_000
# Integers with more digits than this cannot be a value the bot uses; Python refuses to parse
# past 4300 digits at all, which would take the whole body down with one record.
MAX_INT_DIGITS = 64


class Invalid(MalformedMessage):
    """A rejected item: `reason` is the metric label, `message_id` is the id or "?"."""

    def __init__(self, reason: str, detail: str, message_id: str = "?") -> None:
        self.reason = reason
        self.detail = detail
        self.message_id = message_id
        super().__init__(f"{reason}: {detail} (message {message_id})")


def _parse_int(digits: str) -> int | float:
    if len(digits) <= MAX_INT_DIGITS:
        return int(digits)
    return float("-inf") if digits.startswith("-") else float("inf")


def decode_json(body: bytes) -> Any:
    """Parse a response body. Invalid UTF-8 inside strings survives as lone surrogates, so that
    one bad message is rejected on its own instead of taking the whole response with it.
    Integers too long to be anything read as infinities (for the fields to reject or clamp);
    non-finite literals (`Infinity`, `NaN`, `1e999`) read as floats."""
    try:
        return json.loads(body.decode("utf-8", errors="surrogateescape"), parse_int=_parse_int)
    except (ValueError, RecursionError) as exc:
        head = body[:80].decode("utf-8", errors="replace")
        raise Invalid(NOT_JSON, f"{type(exc).__name__}: {head!r}") from None


def _has_surrogate(s: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in s)


class _Fields:
    """Typed access to one message object; every failure is an `Invalid` naming the field."""

    def __init__(self, obj: Mapping[str, Any], message_id: str, prefix: str = "") -> None:
        self.obj = obj
        self.id = message_id
        self.prefix = prefix

    def _bad(self, reason: str, key: str, what: str) -> Invalid:
        return Invalid(reason, f"{self.prefix}{key} {what}", self.id)

    def string(self, key: str, *, required: bool = False, limit: int = MAX_SHORT_CHARS,
               default: str | None = None) -> str | None:
        value = self.obj.get(key)
        if value is None:
            if required:
                raise self._bad(MISSING_FIELD, key, "is missing")
            return default
        if not isinstance(value, str):
            raise self._bad(WRONG_TYPE, key, f"is {type(value).__name__}, not a string")
        if len(value) > limit:
            reason = OVERSIZE_TEXT if key == "text" else BAD_VALUE
            raise self._bad(reason, key, f"has {len(value)} characters (limit {limit})")
        if _has_surrogate(value):
            raise self._bad(INVALID_UTF8, key, "is not valid UTF-8")
        return value

    def integer(self, key: str, *, default: int | None = None) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return default
        # bool is an int in Python but never in JSON; integral floats come from JS numbers.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(WRONG_TYPE, key, f"is {type(value).__name__}, not an integer")
        return value

    def bounded(self, key: str, *, default: int, low: int, high: int) -> int:
        """A number clamped into [low, high] and rounded; `default` when missing, null, 0 or
        NaN. Infinities and huge values clamp; only a non-number is rejected."""
        value = self.obj.get(key)
        if isinstance(value, bool) or (value is not None and not isinstance(value, int | float)):
            raise self._bad(WRONG_TYPE, key, f"is {type(value).__name__}, not a number")
        if not value or value != value:  # None, 0 or NaN
            return default
        return round(max(low, min(high, value)))

    def boolean(self, key: str) -> bool | None:
        value = self.obj.get(key)
        if value is not None and not isinstance(value, bool):
            raise self._bad(WRONG_TYPE, key, f"is {type(value).__name__}, not a boolean")
        return value

    def lines(self, key: str) -> tuple[str, ...] | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self._bad(WRONG_TYPE, key, "is not a list of strings")
        if len(value) > MAX_CONTEXT_LINES or any(len(x) > 4 * MAX_TEXT_CHARS for x in value):
            raise self._bad(BAD_VALUE, key, "is too long")
        if any(_has_surrogate(x) for x in value):
            raise self._bad(INVALID_UTF8, key, "is not valid UTF-8")
        return tuple(value)


def _message_id(obj: Mapping[str, Any]) -> str:
    raw = obj.get("id")
    if raw is None:
        raise Invalid(MISSING_FIELD, "id is missing")
    if not isinstance(raw, str):
        raise Invalid(WRONG_TYPE, f"id is {type(raw).__name__}, not a string")
    if _has_surrogate(raw):
        raise Invalid(INVALID_UTF8, "id is not valid UTF-8")
    shown = raw[:40].encode("utf-8", errors="backslashreplace").decode("ascii", "replace")
    if not raw or len(raw) > MAX_ID_CHARS or not raw.isprintable() or " " in raw:
        raise Invalid(BAD_VALUE, f"id {shown!r} is not a usable id")
    return raw


def parse_message(obj: Any, *, max_text_chars: int = MAX_TEXT_CHARS) -> Message:
    """Validate one message object (CONTRACT.md section 3) or raise `Invalid`."""
    if not isinstance(obj, dict):
        raise Invalid(NOT_OBJECT, f"item is {type(obj).__name__}, not an object")
    mid = _message_id(obj)
    f = _Fields(obj, mid)
    timestamp = f.integer("timestamp")
    if timestamp is None:
        raise Invalid(MISSING_FIELD, "timestamp is missing", mid)
    if not 0 < timestamp < 10**15:
        raise Invalid(BAD_VALUE, f"timestamp {timestamp} is out of range", mid)
    message_type = f.string("message-type", required=True)
    if message_type not in MESSAGE_TYPES:
        raise Invalid(BAD_VALUE, f"message-type {message_type!r} is not human or AI", mid)
    bot = obj.get("botParams")
    if bot is not None and not isinstance(bot, dict):
        raise Invalid(WRONG_TYPE, "botParams is not an object", mid)
    b = _Fields(bot or {}, mid, "botParams.")
    return Message(
        id=mid,
        text=f.string("text", required=True, limit=max_text_chars) or "",
        timestamp=timestamp,
        username=f.string("username", required=True) or "",
        color=f.string("color", default="") or "",
        message_type=message_type,
        domain=f.string("domain", default="") or "",
        reply_to=f.string("replyTo", limit=MAX_ID_CHARS),
        context=f.lines("context"),
        entity=b.string("entity") or None,
        # 0 is the site's "not given": the entity's defaultPriority applies (core/poller.py).
        priority=b.bounded("priority", default=0, low=-MAX_PRIORITY, high=MAX_PRIORITY) or None,
        model=b.string("model") or None,
        ais=b.string("ais") or None,
        status=b.string("status"),
        attempts=b.bounded("attempts", default=0, low=0, high=MAX_ATTEMPTS),
        claimed_by=b.string("claimedBy"),
        processed=b.boolean("processed"),
    )


_WIRE_NAMES = {"message_type": "message-type", "reply_to": "replyTo"}
_BOT_NAMES = {"entity": "entity", "priority": "priority", "model": "model", "ais": "ais",
              "status": "status", "attempts": "attempts", "claimed_by": "claimedBy",
              "processed": "processed"}


def parse_journaled(fields: Mapping[str, Any]) -> Message:
    """A `Message` the journal kept (its dataclass fields), validated as the server's messages
    are: a line with wrong types is an `Invalid`, never a message that breaks the queue."""
    if not isinstance(fields, Mapping):
        raise Invalid(NOT_OBJECT, f"queued message is {type(fields).__name__}, not an object")
    wire: dict[str, Any] = {_WIRE_NAMES.get(k, k): v for k, v in fields.items()
                            if k not in _BOT_NAMES}
    wire["botParams"] = {wire_name: fields[k] for k, wire_name in _BOT_NAMES.items()
                         if k in fields}
    return parse_message(wire)


class SkipLog:
    """Counts and logs what was skipped, and tells the metrics hook.

    A bad message with an id is counted and logged once per reason, however many polls see it
    again (the recent cache is re-read every few seconds); later sightings are logged at debug.
    Items without a usable id, and bad bodies, count every time.
    """

    REMEMBER = 10_000  # (reason, id) pairs kept to recognise repeats; the oldest are forgotten

    def __init__(self, on_skip: Callable[[str, str], None] | None = None) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self._on_skip = on_skip
        self._seen: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()

    def _repeat(self, reason: str, message_id: str) -> bool:
        if message_id == "?":
            return False
        key = (reason, message_id)
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > self.REMEMBER:
            self._seen.popitem(last=False)
        return False

    def skip(self, reason: str, message_id: str, detail: str, where: str) -> None:
        if self._repeat(reason, message_id):
            log.debug("skipped %s from %s again: %s", message_id, where, reason)
            return
        self.counts[reason] += 1
        log.warning("skipped %s from %s: %s: %s", message_id, where, reason, detail)
        if self._on_skip is not None:
            try:
                self._on_skip(reason, message_id)
            except Exception:  # a broken metrics hook must not break polling
                log.exception("on_skip hook failed")

    def skip_invalid(self, exc: Invalid, where: str) -> None:
        self.skip(exc.reason, exc.message_id, exc.detail, where)

    def messages(self, items: Iterable[Any], where: str, *,
                 max_text_chars: int = MAX_TEXT_CHARS) -> list[Message]:
        """Validate each item on its own; skip (and count) the bad ones, keep the order."""
        out: list[Message] = []
        for item in items:
            try:
                out.append(parse_message(item, max_text_chars=max_text_chars))
            except Invalid as exc:
                self.skip_invalid(exc, where)
        return out
