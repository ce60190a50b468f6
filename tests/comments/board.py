"""The real embedded board in a subprocess, on loopback, for the contract tests."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support.procs import LOOPBACK, botcluster_cmd, free_port, running

_seq = itertools.count(1)


@contextlib.contextmanager
def board(tmp: Path, *args: str) -> Iterator[str]:
    """Run `botcluster board` with a fresh database until the block ends; yield its URL."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    cmd = botcluster_cmd("board", "--host", LOOPBACK, "--port", str(port),
                         "--db", str(tmp / "board.sqlite3"), *args)
    with running(cmd, ready_url=f"{url}/api/stats", log=tmp / "board.log", timeout=30):
        yield url


def new_id() -> str:
    """Unique site-style ids, increasing with time, so tests on one board never collide."""
    return f"{int(time.time() * 1000):013d}-t{next(_seq):08d}"


def human_msg(entity: str | None = "emotional-intelligence", priority: int | None = None,
              text: str = "Why are socks colorful?", **over: Any) -> dict[str, Any]:
    """A human message as the site's frontend posts it (exempt from the rate limit)."""
    mid = new_id()
    msg: dict[str, Any] = {
        "id": mid, "text": text, "timestamp": int(mid[:13]), "username": "Human",
        "color": "080195229", "domain": "saywhatwant.app", "language": "en",
        "message-type": "human", "misc": ""}
    if entity is not None:
        msg["botParams"] = {"entity": entity, "priority": priority, "processed": False}
    msg.update(over)
    return msg


def post_human(url: str, **kw: Any) -> dict[str, Any]:
    msg = human_msg(**kw)
    r = httpx.post(f"{url}/api/comments", json=msg, timeout=10)
    assert r.status_code == 200, r.text
    return msg
