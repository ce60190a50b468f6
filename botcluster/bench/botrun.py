"""The `botcluster` strategy: the real supervisor, dispatcher and workers against the sim.

`botcluster start` runs in its own process group with a generated config (botconfig.py) whose
hosts are the simulated ones and whose embedded board is private to the run. The workload's
messages are posted to that board at their times, as the site's users would post them, and the
replies are read back from the board's own store: a reply's time is the timestamp the bot gave
it when posting, so the bench's polling adds nothing to the measured latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx

from botcluster.bench.botconfig import WARMUP_ENTITY, WORKER_ID, BotSetup
from botcluster.bench.drivers import Run
from botcluster.bench.workload import Request, prompt_text
from botcluster.errors import BotclusterError
from botcluster.proc import stop_group

READY_MARK = "; ready"
WORKER_READY = "ready (pid"


class BotFailed(BotclusterError):
    """The bot did not start."""


class BotProcess:
    def __init__(self, setup: BotSetup, workdir: Path) -> None:
        self.setup = setup
        self.log_file = workdir / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start and wait until the banner says ready and every worker has booted."""
        cmd = [sys.executable, "-m", "botcluster", "start", "--config", str(self.setup.config)]
        with self.log_file.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.log_file.read_text(errors="replace")
            if READY_MARK in text and text.count(WORKER_READY) >= self.setup.workers:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise BotFailed(f"botcluster start did not become ready (see {self.log_file})")

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.proc is not None:
            stop_group(self.proc, timeout_s)


async def warm_up(setup: BotSetup, timeout_s: float = 120.0, max_messages: int = 30) -> None:
    """Answer short messages, one at a time, until every worker process has answered one.

    A worker finishes its lazy set-up (imports, clients, dialect detection) on its first job,
    which took seconds on a 2-CPU machine: a bot that has been running does not pay that, and
    at a compressed time scale it would count as minutes. One message at a time, to a model
    loaded on the first host, is always a hit there: the warm-up loads nothing.
    """
    workers = {f"{WORKER_ID}-w{i}" for i in range(setup.workers)}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=setup.board_url, timeout=30.0) as http:
        for i in range(max_messages):
            wall_ms = int(time.time() * 1000)
            mid = f"{wall_ms}-warmup{i:04d}"
            body = {"id": mid, "text": "hello", "timestamp": wall_ms, "username": "Human",
                    "color": "080195229", "domain": "saywhatwant.app", "language": "en",
                    "message-type": "human", "misc": "", "context": [],
                    "botParams": {"entity": WARMUP_ENTITY}}
            (await http.post("/api/comments", json=body)).raise_for_status()
            while mid not in await asyncio.to_thread(replies, setup.db_path):
                if time.monotonic() > deadline:
                    raise BotFailed(f"the bot did not answer a warm-up message in {timeout_s}s")
                await asyncio.sleep(0.05)
            workers -= await asyncio.to_thread(warm_workers, setup.db_path)
            if not workers:
                return


def warm_workers(db_path: Path) -> set[str]:
    """Worker ids that claimed a warm-up message (the board records the claimer)."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True,
                                            timeout=5.0)) as db:
        rows = db.execute("SELECT body FROM records WHERE id LIKE '%-warmup%'")
        return {str(json.loads(b).get("botParams", {}).get("claimedBy")) for (b,) in rows}


def message_id(r: Request, wall_ms: int) -> str:
    return f"{wall_ms}-bench{r.index:06d}"


def human_message(r: Request, wall_ms: int) -> dict[str, object]:
    # An empty context: the bot needs no extra read, as when the site sends the lines it showed.
    return {"id": message_id(r, wall_ms), "text": prompt_text(r), "timestamp": wall_ms,
            "username": "Human", "color": "080195229", "domain": "saywhatwant.app",
            "language": "en", "message-type": "human", "misc": "", "context": [],
            "botParams": {"entity": r.entity, "priority": r.priority}}


def replies(db_path: Path) -> dict[str, list[tuple[str, int]]]:
    """human message id -> [(reply id, reply timestamp ms)] from the board's store."""
    out: dict[str, list[tuple[str, int]]] = defaultdict(list)
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True,
                                            timeout=5.0)) as db:
        rows = db.execute("SELECT body FROM records")
        for (body,) in rows:
            m = json.loads(body)
            if m.get("message-type") == "AI" and m.get("replyTo"):
                out[str(m["replyTo"])].append((str(m["id"]), int(m.get("timestamp") or 0)))
    return out


async def drive_bot(run: Run, setup: BotSetup, wall: float) -> dict[str, int]:
    """Post the workload at its times and wait for the replies; fills `run.done_s`.

    `wall` is the wall-clock time of the run's start (the bot stamps replies in wall time).
    Returns the number of distinct replies per human message id.
    """
    ids: dict[str, Request] = {}
    async with httpx.AsyncClient(base_url=setup.board_url, timeout=30.0) as http:

        async def post(r: Request) -> None:
            wall_ms = int((wall + r.t * run.time_scale) * 1000)
            body = human_message(r, wall_ms)
            ids[str(body["id"])] = r
            for _ in range(5):
                with contextlib.suppress(httpx.HTTPError):
                    (await http.post("/api/comments", json=body)).raise_for_status()
                    return
                await asyncio.sleep(0.1)

        collector = asyncio.create_task(_collect(run, setup, ids, wall))  # progress meanwhile
        posting = []
        for r in sorted(run.requests, key=lambda r: r.t):
            await run.until(r.t)
            posting.append(asyncio.create_task(post(r)))
        await asyncio.gather(*posting)
        return await collector


async def _collect(run: Run, setup: BotSetup, ids: dict[str, Request],
                   wall: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    while True:
        found = await asyncio.to_thread(replies, setup.db_path)
        for mid, got in found.items():
            r = ids.get(mid)
            if r is None:
                continue
            counts[mid] = len({rid for rid, _ in got})
            if r.index not in run.done_s:
                first = min(ts for _, ts in got) / 1000.0
                run.done_s[r.index] = max(0.0, (first - wall) / run.time_scale)
                run.attempts[r.index] = 1
                run.on_done()
        if len(run.done_s) >= len(run.requests) or run.now_s() >= run.deadline_s:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # a duplicate would be posted right after the first reply
    for mid, got in (await asyncio.to_thread(replies, setup.db_path)).items():
        if mid in ids:
            counts[mid] = len({rid for rid, _ in got})
    return counts
