"""The data the comments API exchanges: validated messages in, replies out (CONTRACT.md s. 3)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from botcluster.config.model import SITE_DOMAIN

_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
# SystemRandom: ids from several worker processes must not collide even if seeded alike.
_ID_RNG = random.SystemRandom()


@dataclass(frozen=True)
class Message:
    """One message from the server that passed validation.

    `priority` is None when the poster gave none (missing, null, 0 or NaN: the site's "default",
    which is the entity's `defaultPriority`, 50 unless it says otherwise); `context` is None
    when the server sent none, so the bot can tell "no context" from "empty context".
    """

    id: str
    text: str
    timestamp: int
    username: str
    color: str
    message_type: str  # "human" | "AI"
    domain: str = ""
    reply_to: str | None = None
    context: tuple[str, ...] | None = None
    entity: str | None = None
    priority: int | None = None
    model: str | None = None
    ais: str | None = None
    status: str | None = None
    attempts: int = 0
    claimed_by: str | None = None
    processed: bool | None = None

    @property
    def needs_reply(self) -> bool:
        """A human message addressed to an entity."""
        return self.message_type == "human" and bool(self.entity)


@dataclass(frozen=True)
class Reply:
    """An AI reply to post. Its `id` is chosen once, before the first POST, and never changes."""

    id: str
    text: str
    timestamp: int
    username: str
    color: str
    reply_to: str

    def to_json(self) -> dict[str, Any]:
        """The body of POST /api/comments, with the domain that exempts the bot from 429s."""
        return {
            "id": self.id,
            "text": self.text,
            "timestamp": self.timestamp,
            "username": self.username,
            "color": self.color,
            "domain": SITE_DOMAIN,
            "language": "en",
            "message-type": "AI",
            "misc": "",
            "replyTo": self.reply_to,
        }


@dataclass(frozen=True)
class FailResult:
    """What POST /api/queue/fail reports: the new status ("pending" or "failed") and attempts."""

    status: str
    attempts: int


def message_id_time(message_id: str) -> float | None:
    """The seconds a site-style id was made at (its 13-digit ms prefix), or None."""
    head, sep, _ = message_id.partition("-")
    if not sep or len(head) != 13 or not head.isdigit():
        return None
    return int(head) / 1000


def new_message_id(now_ms: int, rng: random.Random | None = None) -> str:
    """A site-style id, `{13-digit ms}-{9 base36 chars}`, e.g. `1761571872625-2qa6p4o4k`."""
    if not 0 <= now_ms < 10**13:
        raise ValueError(f"now_ms out of range for a 13-digit id: {now_ms}")
    r = rng if rng is not None else _ID_RNG
    suffix = "".join(r.choice(_BASE36) for _ in range(9))
    return f"{now_ms:013d}-{suffix}"
