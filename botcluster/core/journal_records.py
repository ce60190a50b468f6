"""What a journal line must be to be replayed: every record is checked before it is applied.

The journal is read back at every start, so a line that is valid JSON but not a valid record
(a wrong type, a non-finite or overflowing number, a message that cannot be rebuilt) would
otherwise fail the same way at every start. `check` returns a clean copy of a record, with only
the fields recovery uses and a priority clamped to what a JavaScript server can send, or raises
`BadRecord` with a short reason (a count key) and a detail for the log.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from botcluster.errors import JournalError

MAX_ID_CHARS = 256
MAX_SHORT_CHARS = 1024
MAX_TIME_S = 1e11  # unix seconds; past year 5000 is garbage, and stays far from overflow
# Priorities are JavaScript numbers on the site: beyond the safe integers they are garbage, and
# far beyond them `float()` overflows (a priority of 10**400 from a non-JavaScript server).
MAX_PRIORITY = 2**53 - 1
MESSAGE_TYPES = ("human", "AI")


class BadRecord(JournalError):
    """A journal line that parsed but cannot be replayed. `reason` is a short count key."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


def ident(value: Any, key: str) -> str:
    """A message or reply id: a short printable string (what the comments client accepts)."""
    if not isinstance(value, str):
        raise BadRecord("wrong_type", f"{key} is {type(value).__name__}, not a string")
    if not value or len(value) > MAX_ID_CHARS or not value.isprintable() or _surrogate(value):
        raise BadRecord("bad_value", f"{key} {value[:40]!r} is not a usable id")
    return value


def text(value: Any, key: str, limit: int | None = MAX_SHORT_CHARS) -> str:
    if not isinstance(value, str):
        raise BadRecord("wrong_type", f"{key} is {type(value).__name__}, not a string")
    if (limit is not None and len(value) > limit) or _surrogate(value):
        raise BadRecord("bad_value", f"{key} is too long or not valid UTF-8")
    return value


def integer(value: Any, key: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRecord("wrong_type", f"{key} is {type(value).__name__}, not an integer")
    return value


def seconds(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord("wrong_type", f"{key} is {type(value).__name__}, not a number")
    if not 0 <= value < MAX_TIME_S:  # NaN and the infinities fail this too
        raise BadRecord("bad_value", f"{key} {str(value)[:20]} is out of range")
    return float(value)


def priority(value: Any, key: str = "msg.priority") -> int:
    """Any number, clamped to +-MAX_PRIORITY (NaN is refused); other types are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord("wrong_type", f"{key} is {type(value).__name__}, not a number")
    if isinstance(value, float) and math.isnan(value):
        raise BadRecord("bad_value", f"{key} is NaN")
    return int(max(-MAX_PRIORITY, min(MAX_PRIORITY, value)))


def _optional(check: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    return lambda v, k: None if v is None else check(v, k)


def _lines(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise BadRecord("wrong_type", f"{key} is not a list of strings")
    if any(_surrogate(x) for x in value):
        raise BadRecord("bad_value", f"{key} is not valid UTF-8")
    return value


def _message_type(value: Any, key: str) -> str:
    if value not in MESSAGE_TYPES:
        raise BadRecord("bad_value", f"{key} {str(value)[:20]!r} is not human or AI")
    return str(value)


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise BadRecord("wrong_type", f"{key} is {type(value).__name__}, not a boolean")
    return value


# The fields of comments.Message, as the poller journals them (dataclasses.asdict).
REQUIRED_MESSAGE_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "id": ident, "text": lambda v, k: text(v, k, None), "timestamp": integer,
    "username": text, "color": text, "message_type": _message_type,
}
OPTIONAL_MESSAGE_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "domain": text, "reply_to": _optional(ident), "context": _optional(_lines),
    "entity": _optional(text), "priority": _optional(priority), "model": _optional(text),
    "ais": _optional(text), "status": _optional(text), "attempts": integer,
    "claimed_by": _optional(text), "processed": _optional(_flag),
}


def message(value: Any, message_id: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise BadRecord("wrong_type", f"msg is {type(value).__name__}, not an object")
    out: dict[str, Any] = {}
    for key, check_ in REQUIRED_MESSAGE_FIELDS.items():
        if key not in value:
            raise BadRecord("missing_field", f"msg.{key} is missing")
        out[key] = check_(value[key], f"msg.{key}")
    for key, check_ in OPTIONAL_MESSAGE_FIELDS.items():
        if key in value:
            out[key] = check_(value[key], f"msg.{key}")
    if out["id"] != message_id:
        raise BadRecord("bad_value", "msg.id is not the record's message id")
    return out


# Per event: required fields, then optional ones (absent is fine; present must be right).
_EVENTS: dict[str, tuple[dict[str, Callable[[Any, str], Any]],
                         dict[str, Callable[[Any, str], Any]]]] = {
    "reply": ({"m": ident, "r": ident}, {}),
    "claimed": ({"m": ident}, {}),
    "posted": ({"m": ident, "r": ident}, {"t": seconds, "n": text}),
    "done": ({"m": ident}, {"o": text}),
    "seen": ({"r": ident}, {}),
    "queued": ({"m": ident, "msg": lambda v, k: v}, {}),
}


def check(event: Any) -> dict[str, Any]:
    """A clean copy of `event` with only the fields recovery reads, or raise BadRecord."""
    if not isinstance(event, dict):
        raise BadRecord("not_object", f"line is {type(event).__name__}, not an object")
    kind = event.get("e")
    if not isinstance(kind, str) or kind not in _EVENTS:
        raise BadRecord("unknown_event", f"event {str(kind)[:20]!r} is not a journal event")
    required, optional = _EVENTS[kind]
    out: dict[str, Any] = {"e": kind}
    for key, check_ in required.items():
        if key not in event:
            raise BadRecord("missing_field", f"{kind}: {key} is missing")
        out[key] = check_(event[key], key)
    for key, check_ in optional.items():
        if key in event:
            out[key] = check_(event[key], key)
    if kind == "queued":
        out["msg"] = message(event["msg"], out["m"])
    return out


def bound_context(event: dict[str, Any], keep_lines: int | None) -> dict[str, Any]:
    """A `queued` event with only the last `keep_lines` context lines (the prompt never uses
    more); any other event unchanged."""
    msg = event.get("msg")
    if keep_lines is None or event.get("e") != "queued" or not isinstance(msg, dict):
        return event
    context = msg.get("context")
    if not isinstance(context, list | tuple) or len(context) <= keep_lines:
        return event
    kept = list(context[len(context) - keep_lines:]) if keep_lines > 0 else []
    return {**event, "msg": {**msg, "context": kept}}


def _surrogate(s: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in s)
