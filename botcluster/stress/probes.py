"""Counters read from the servers under test: the board's /api/stats and each sim's /sim/stats.

These tell what a run really exercised (overlapping cache writes, concurrent predictions per
host). A server that is not the board or not a simulator simply has none: the answer is None
or an empty mapping, never an error, because the run itself is still valid.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from botcluster.errors import ConfigError

log = logging.getLogger(__name__)

STATS_TRIES = 5  # /api/stats goes through the board's injected faults like every other path


async def _get_json(http: httpx.AsyncClient, url: str, tries: int = STATS_TRIES) -> Any:
    for attempt in range(tries):
        try:
            r = await http.get(url)
            if r.is_success:
                return r.json()
            if r.status_code < 500:
                return None
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("GET %s failed: %s", url, exc)
        await asyncio.sleep(0.2 * (attempt + 1))
    return None


async def board_counters(http: httpx.AsyncClient) -> dict[str, Any] | None:
    """The board's own counters ("board" in /api/stats), or None when the API is not a board."""
    body = await _get_json(http, "/api/stats")
    board = body.get("board") if isinstance(body, dict) else None
    return board if isinstance(board, dict) else None


def sim_stats_urls(urls: Sequence[str], ports_file: Path | None) -> list[str]:
    """Stats URLs of simulated hosts from `--sim-stats` (a host URL or its /sim/stats URL) and
    a `botcluster sim --ports-file` JSON file ({name: url})."""
    out = [u.rstrip("/") if u.rstrip("/").endswith("/sim/stats") else
           u.rstrip("/") + "/sim/stats" for u in urls]
    if ports_file is not None:
        try:
            hosts = json.loads(ports_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(str(ports_file), "", f"not a sim ports file: {exc}") from exc
        if not isinstance(hosts, dict):
            raise ConfigError(str(ports_file), "", "expected a JSON object {name: url}")
        out += [str(u).rstrip("/") + "/sim/stats" for u in hosts.values()]
    return list(dict.fromkeys(out))


async def sim_stats(http: httpx.AsyncClient, urls: Sequence[str]) -> dict[str, dict[str, Any]]:
    """host name -> its /sim/stats body, for every URL that answered."""
    bodies = await asyncio.gather(*(_get_json(http, u) for u in urls))
    out: dict[str, dict[str, Any]] = {}
    for url, body in zip(urls, bodies, strict=True):
        if isinstance(body, dict):
            out[str(body.get("host") or url)] = body
        else:
            log.warning("no stats from simulated host %s", url)
    return out


def delta(after: Mapping[str, Any] | None, before: Mapping[str, Any] | None,
          key: str) -> int | None:
    """`after[key] - before[key]` for counters; None when either side lacks it."""
    if after is None or before is None:
        return None
    a, b = after.get(key), before.get(key)
    if not isinstance(a, int) or not isinstance(b, int):
        return None
    return a - b
