"""`botcluster stress`: its accounting (pure), and the command against a real board with a
scripted replier that answers some messages twice and one not at all."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from botcluster.comments import new_message_id
from botcluster.stress import Exercised, SentMessage, Sighting, account, peak_within, percentile
from tests.support.procs import LOOPBACK, botcluster_cmd, free_port, running


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([5.0], 95) == 5.0


def test_peak_within_counts_timestamps_in_one_window() -> None:
    assert peak_within([]) == 0
    assert peak_within([0, 50, 99, 100, 300]) == 3
    assert peak_within([0, 100, 200]) == 1


def _sighting(t: float, mid: str, reply_to: str | None = None, ts: int = 0) -> Sighting:
    kind = "AI" if reply_to else "human"
    return Sighting(t, {"id": mid, "message-type": kind, "replyTo": reply_to, "timestamp": ts})


def test_account_counts_once_missing_duplicated_and_dedups_by_id() -> None:
    sent = [SentMessage(f"h{i}", "e", 1000, posted_at=10.0, visible_at=10.5, heals=i)
            for i in range(4)]
    sent.append(SentMessage("h4", "e", 1000, posted_at=None, visible_at=None))
    seen = {"r0": _sighting(12.0, "r0", "h0"),  # once
            "r1": _sighting(14.0, "r1", "h1"),  # once
            "r2a": _sighting(11.0, "r2a", "h2"), "r2b": _sighting(13.0, "r2b", "h2"),
            "x": _sighting(12.0, "x", "someone-else")}
    report = account("http://t", sent, seen, entities=("e",), elapsed_s=5.0,
                     exercised=Exercised(peak_replies_per_100ms=1))
    assert report.replied_once == 2
    assert report.missing == ("h3", "h4")
    assert report.duplicated == {"h2": ("r2a", "r2b")}
    assert report.not_posted == ("h4",)
    assert report.never_visible == ("h4",)
    assert report.heals == 0 + 1 + 2 + 3
    assert report.latency.max_s == 4.0 and report.latency.p50_s == 2.0
    assert not report.ok
    assert json.loads(json.dumps(report.to_json()))["ok"] is False


class Replier(threading.Thread):
    """Answers human messages on the board like a bot would: `twice` get two replies with
    different ids, `skip` gets none, and every other message exactly one."""

    def __init__(self, url: str, *, twice: int, skip: int) -> None:
        super().__init__(daemon=True)
        self.url, self.twice, self.skip = url, twice, skip
        self.stop = threading.Event()
        self.answered: set[str] = set()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while not self.stop.is_set():
                rows = http.get("/api/comments", params={"after": 0, "limit": 1000,
                                                         "type": "human"}).json()
                for m in sorted(rows, key=lambda r: r["id"]):
                    if m["id"] not in self.answered:
                        self._answer(http, m)
                time.sleep(0.1)

    def _answer(self, http: httpx.Client, m: dict[str, Any]) -> None:
        self.answered.add(m["id"])
        n = len(self.answered)
        copies = 0 if n == self.skip else 2 if n == self.twice else 1
        for _ in range(copies):
            now = int(time.time() * 1000)
            http.post("/api/comments", json={
                "id": new_message_id(now), "text": "hi", "timestamp": now, "username": "Bot",
                "color": "150150150", "domain": "saywhatwant.app", "message-type": "AI",
                "misc": "", "replyTo": m["id"]}).raise_for_status()


@pytest.mark.parametrize(("twice", "skip", "code"), [(0, 0, 0), (2, 4, 1)])
def test_stress_command_reports_and_exits(tmp_path: Path, twice: int, skip: int,
                                          code: int) -> None:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    board = botcluster_cmd("board", "--port", str(port), "--db", str(tmp_path / "b.sqlite3"))
    with running(board, ready_url=url + "/api/heartbeat", log=tmp_path / "board.log"):
        replier = Replier(url, twice=twice, skip=skip)
        replier.start()
        out = tmp_path / "report.json"
        result = subprocess.run(
            botcluster_cmd("stress", "--api-url", url, "-n", "5", "--entity", "a",
                           "--entity", "b", "--deadline", "10", "--settle", "1", "--tab-poll",
                           "0.3", "--json", str(out)), capture_output=True, text=True,
            timeout=60)
        replier.stop.set()
        replier.join(5)
    print(result.stdout, result.stderr)
    assert result.returncode == code
    report = json.loads(out.read_text())
    assert report["messages"] == 5
    assert report["entities"] == ["a", "b"]
    assert report["replied_once"] == 5 - (1 if twice else 0) - (1 if skip else 0)
    assert len(report["duplicated"]) == (1 if twice else 0)
    assert len(report["missing"]) == (1 if skip else 0)
    assert report["never_visible"] == []
    assert report["exercised"]["cache_writes"] > 0  # the API is the board: its counters read
    assert "replies visible exactly once" in result.stdout
