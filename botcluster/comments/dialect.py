"""The comments API dialects and how to tell them apart (CONTRACT.md sections 1 and 2)."""

from __future__ import annotations

from typing import Any

AUTO = "auto"
KV = "kv"  # KV worker with the queue endpoints
KV_LEGACY = "kv-legacy"  # KV worker without them: botParams.processed + PATCH
DO = "do"  # the later Durable Objects worker
DIALECTS = (AUTO, KV, KV_LEGACY, DO)

# The probe: `after` present selects the cache mode of GET in both dialects.
PROBE_PATH = "/api/comments"
PROBE_PARAMS = {"after": "0", "limit": "1"}
QUEUE_PROBE_PATH = "/api/queue/pending"
HEARTBEAT_PATH = "/api/heartbeat"
CLAIM_PATH = "/api/queue/claim"


def family_of(body: Any) -> str | None:
    """KV for a JSON list or `{"comments": ...}`, DO for `{"messages", "version"}`, else None."""
    if isinstance(body, list):
        return KV
    if isinstance(body, dict):
        if "messages" in body and "version" in body:
            return DO
        if "comments" in body:
            return KV
    return None


def has_queue(status: int, body: Any) -> bool | None:
    """Whether a KV site serves the queue endpoints, from its answer to the queue probe.

    404 means not deployed (legacy); `{"pending": [...]}` means deployed; anything else
    (a 5xx, an HTML page) says nothing, so the caller must not guess.
    """
    if status == 404:
        return False
    if status == 200 and isinstance(body, dict) and isinstance(body.get("pending"), list):
        return True
    return None


def has_queue_by_claim(status: int) -> bool | None:
    """A claim without fields: 400 where the queue is deployed, 404 where it is not."""
    return {400: True, 404: False}.get(status)
