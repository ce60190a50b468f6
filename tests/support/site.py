"""What a person on the site does and sees: post a human message, read the conversation."""

from __future__ import annotations

import time
from typing import Any

import httpx


def post_human(base: str, mid: str, text: str, entity: str, *,
               context: list[str] | None = None, priority: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": mid, "text": text, "timestamp": int(time.time() * 1000), "username": "Human",
        "color": "080195229", "domain": "saywhatwant.app", "language": "en",
        "message-type": "human", "misc": "", "botParams": {"entity": entity},
    }
    if context is not None:
        body["context"] = context
    if priority is not None:
        body["botParams"]["priority"] = priority
    r = httpx.post(base + "/api/comments", json=body, timeout=10)
    r.raise_for_status()
    result: dict[str, Any] = r.json()
    return result


def visible(base: str) -> list[dict[str, Any]]:
    """Every message in the recent cache, deduplicated by id as the site's clients do."""
    r = httpx.get(base + "/api/comments", params={"after": 0, "limit": 1000}, timeout=10)
    r.raise_for_status()
    seen: dict[str, dict[str, Any]] = {}
    for m in r.json():
        seen.setdefault(m["id"], m)
    return list(seen.values())


def replies_to(messages: list[dict[str, Any]], human_id: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("message-type") == "AI" and m.get("replyTo") == human_id]


def wait_for(predicate: Any, timeout: float, interval: float = 0.5) -> Any:
    """Poll `predicate()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met after {timeout}s (last: {last!r})")
