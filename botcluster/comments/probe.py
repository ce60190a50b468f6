"""Telling the dialect of a comments API from its answers (CONTRACT.md sections 1 and 2).

The shape of a GET of /api/comments tells KV from DO. That answer holds records anyone could
have posted, so when it never comes (a 500 over a record the server cannot serve), endpoints
that hold no records decide: only KV has /api/heartbeat, and only a KV site with the queue
answers a claim without fields with 400 rather than 404 (and changes nothing).
"""

from __future__ import annotations

import logging
from typing import Any

from botcluster.comments import dialect as d
from botcluster.comments.http import Http, Response
from botcluster.comments.reader import Reader
from botcluster.errors import CommentsUnavailable

log = logging.getLogger(__name__)


async def probe(http: Http, read: Reader) -> str:
    """The dialect, or `CommentsUnavailable` when the answers fit none."""
    resp = await _try(http, "GET", d.PROBE_PATH, d.PROBE_PARAMS)
    family = d.family_of(read.quiet(resp)) if resp and resp.status == 200 else None
    if resp is None:
        family = await _family_without_records(http, read)
    if family is None:
        raise CommentsUnavailable(f"cannot tell the dialect: GET {d.PROBE_PATH} gave "
                                  f"{_shown(resp)}")
    if family == d.DO:
        return d.DO
    resp = await _try(http, "GET", d.QUEUE_PROBE_PATH, {"limit": "1"})
    queue = d.has_queue(resp.status, read.quiet(resp)) if resp else None
    if resp is None:
        claim = await _try(http, "POST", d.CLAIM_PATH, body={})
        queue = d.has_queue_by_claim(claim.status) if claim else None
    if queue is None:
        raise CommentsUnavailable(f"cannot tell kv from kv-legacy: GET {d.QUEUE_PROBE_PATH} "
                                  f"gave {_shown(resp)}")
    return d.KV if queue else d.KV_LEGACY


async def _family_without_records(http: Http, read: Reader) -> str | None:
    beat = await _try(http, "GET", d.HEARTBEAT_PATH)
    if beat is None or beat.status not in (200, 404):
        return None
    if beat.status == 200:
        return d.KV if beat.body.strip().isdigit() else None
    stats = await _try(http, "GET", "/api/stats")
    return d.DO if stats and isinstance(read.quiet(stats), dict) else None


async def _try(http: Http, method: str, path: str, params: dict[str, str] | None = None,
               body: Any = None) -> Response | None:
    """A probe's answer, or None when none came."""
    try:
        return await http.request(method, path, params=params, body=body,
                                  replay_safe=body is None, scan=method == "GET")
    except CommentsUnavailable as exc:
        log.warning("dialect probe: %s", exc)
        return None


def _shown(resp: Response | None) -> str:
    return "no answer" if resp is None else f"{resp.status} {resp.detail()}"
