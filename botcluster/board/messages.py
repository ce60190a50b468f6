"""Messages as the site's KV worker builds, filters and orders them (CONTRACT.md sections 1, 3).

Pure functions: no I/O, time and randomness passed in.
"""

from __future__ import annotations

import math
import random
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from botcluster.board.settings import (
    DEFAULT_PRIORITY,
    MAX_FUTURE_MS,
    MAX_TEXT_CHARS,
    MAX_USERNAME_CHARS,
)

Message = dict[str, Any]

_WHITESPACE = re.compile(r"\s+")
_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")
BASE36 = string.digits + string.ascii_lowercase
MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's; beyond it a ms timestamp is not a time


class InvalidMessage(ValueError):
    """The POST body cannot become a message; the text is the 400 error."""


def sanitize_text(text: object) -> str:
    """Trim, collapse every whitespace run (newlines too) to one space, cut to 1000."""
    if not isinstance(text, str):
        return ""
    return _WHITESPACE.sub(" ", text.strip())[:MAX_TEXT_CHARS]


def sanitize_username(username: object) -> str | None:
    """Trim and cut to 16; None (the field is left out) when empty or not a string."""
    if not isinstance(username, str):
        return None
    cleaned = username.strip()[:MAX_USERNAME_CHARS]
    return cleaned or None


def js_int(raw: str | None) -> int | None:
    """`parseInt(raw)`: the leading integer of the string, None where JavaScript gives NaN.

    Past 30 significant digits the value is held at +-10**30: larger than any valid value
    and cheap to compare, where Python would refuse (or take long) to convert the digits.
    """
    if raw is None:
        return None
    match = _LEADING_INT.match(raw)
    if not match:
        return None
    text = match.group(1)
    digits = text.lstrip("+-").lstrip("0")
    value = 10**30 if len(digits) > 30 else int(digits or "0")
    return -value if text.startswith("-") else value


def is_key(value: object) -> TypeGuard[str]:
    """A string that can be a storage key: encodable as UTF-8 (no lone UTF-16 surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def kv_id(now_ms: int, rng: random.Random) -> str:
    """`{13-digit ms}-{7 base36 chars}`, the shape the site's worker generates."""
    return f"{now_ms}-" + "".join(rng.choice(BASE36) for _ in range(7))


def do_id(rng: random.Random) -> str:
    """10 random `[a-z0-9]` characters, the later dialect's generated id."""
    return "".join(rng.choice(BASE36) for _ in range(10))


def random_color(rng: random.Random) -> str:
    """A 9-digit `RRRGGGBBB` colour in the site's ranges (one bright channel, one mid, one dim)."""
    main = rng.randint(150, 220)
    second = rng.randint(40, 220)
    channels = [main, second, 40]
    rng.shuffle(channels)
    return "".join(f"{c:03d}" for c in channels)


def origin_host(origin: str | None) -> str | None:
    """`https://saywhatwant.app:443` -> `saywhatwant.app`."""
    if not origin:
        return None
    host = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", origin)
    return re.sub(r":[0-9]+$", "", host.split("/")[0]) or None


def build_message(body: Mapping[str, Any], *, now_ms: int, origin: str | None,
                  new_id: str, rng: random.Random) -> Message:
    """The stored form of a POSTed message. Raises InvalidMessage (400) when it cannot be one."""
    text = sanitize_text(body.get("text"))
    if not text:
        raise InvalidMessage("Comment text is required")
    message_id = body.get("id") or new_id
    if not isinstance(message_id, str):
        raise InvalidMessage("id must be a string")
    if not is_key(message_id):
        raise InvalidMessage("id must be valid Unicode text (it holds a lone surrogate)")
    timestamp = body.get("timestamp") or now_ms
    if not is_number(timestamp) or not 0 < timestamp <= MAX_SAFE_INTEGER:
        raise InvalidMessage("timestamp must be a positive number of ms")
    if timestamp > now_ms + MAX_FUTURE_MS:
        # A message from the far future would sort after everything to come, and a poller
        # whose cursor follows the newest timestamp would stop seeing new messages.
        raise InvalidMessage(f"timestamp is more than {MAX_FUTURE_MS // 60_000} minutes "
                             "ahead of the server's clock")
    message: Message = {"id": message_id, "text": text, "timestamp": timestamp}
    username = sanitize_username(body.get("username"))
    if username is not None:
        message["username"] = username
    message["color"] = body.get("color") or random_color(rng)
    message["domain"] = body.get("domain") or origin_host(origin) or "unknown"
    message["language"] = body.get("language") or "en"
    message["message-type"] = body.get("message-type") or "human"
    message["misc"] = body.get("misc") or ""
    context = body.get("context")
    if isinstance(context, list):  # kept even when empty, as the site does
        message["context"] = context
    bot_params = body.get("botParams")
    if isinstance(bot_params, dict):
        message["botParams"] = queued(bot_params)
    if body.get("replyTo"):
        message["replyTo"] = body["replyTo"]
    return message


def queued(bot_params: Mapping[str, Any]) -> dict[str, Any]:
    """botParams as stored: with an entity, the queue fields are (re)set to a fresh pending."""
    params = dict(bot_params)
    if params.get("entity"):
        params.update(status="pending", claimedBy=None, claimedAt=None, attempts=0)
    return params


def priority(message: Message) -> float:
    """`botParams.priority`, where missing, 0, NaN or not a number counts as 50; an integer
    too big for a float counts as +-infinity (sorting never overflows)."""
    params = message.get("botParams")
    value = params.get("priority") if isinstance(params, dict) else None
    if not is_number(value) or not value:
        return float(DEFAULT_PRIORITY)
    try:
        number = float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
    return float(DEFAULT_PRIORITY) if math.isnan(number) else number


def queue_order(messages: Iterable[Message]) -> list[Message]:
    """Higher priority first, then oldest first."""
    return sorted(messages, key=lambda m: (-priority(m), timestamp(m)))


def timestamp(message: Message) -> float:
    value = message.get("timestamp")
    if not is_number(value):
        return 0.0
    try:
        number = float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
    return 0.0 if math.isnan(number) else number


def status(message: Message) -> object:
    params = message.get("botParams")
    return params.get("status") if isinstance(params, dict) else None


def newest_after(items: Iterable[Message], after: int, kind: str | None,
                 limit: int) -> list[Message]:
    """Cursor mode: newer than `after`, of `kind` if given, newest first, at most `limit`."""
    found = [m for m in items if timestamp(m) > after
             and (not kind or m.get("message-type") == kind)]
    found.sort(key=timestamp, reverse=True)
    return found[:limit]


def page(items: list[Message], *, offset: int, limit: int, search: str | None,
         kind: str | None) -> tuple[list[Message], bool]:
    """Page mode: the window `offset` back from the newest, oldest first, and hasMore."""
    if search:
        needle = search.lower()
        items = [m for m in items if needle in str(m.get("text", "")).lower()
                 or needle in str(m.get("username") or "").lower()]
    if kind:
        items = [m for m in items if m.get("message-type") == kind]
    start = max(0, len(items) - offset - limit)
    end = max(0, len(items) - offset)
    return items[start:end], start > 0
