"""The board as a real process: start as the supervisor does, SIGTERM/SIGINT, kill -9, restart."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.procs import LOOPBACK, botcluster_cmd, free_port, running, wait_http


def _start(db: Path, port: int, *extra: str) -> list[str]:
    return botcluster_cmd("board", "--host", LOOPBACK, "--port", str(port), "--db", str(db),
                          "--entity", "ei=EmotionalGuide", *extra)


def _kill9(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_start_like_the_supervisor(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    with running(_start(tmp_path / "b.sqlite3", port), ready_url=url + "/api/stats",
                 log=tmp_path / "log.txt"):
        assert httpx.get(url + "/api/board/entities").json() == [
            {"id": "ei", "username": "EmotionalGuide"}]
        assert httpx.get(url + "/").headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_port_zero_prints_and_signal_exits_zero(tmp_path: Path, sig: signal.Signals) -> None:
    cmd = botcluster_cmd("board", "--port", "0", "--db", str(tmp_path / "b.sqlite3"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("board listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        wait_http(url + "/api/stats", proc=proc)
        httpx.post(url + "/api/comments", json={"text": "hi", "domain": "saywhatwant.app"})
        proc.send_signal(sig)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            _kill9(proc)


def test_bind_failure_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    with running(_start(tmp_path / "a.sqlite3", port), ready_url=url + "/api/stats"):
        r = subprocess.run(_start(tmp_path / "b.sqlite3", port), capture_output=True, timeout=30)
        assert r.returncode != 0 and b"cannot bind" in r.stderr


async def _post_until_killed(url: str, proc: subprocess.Popen[bytes], acked: list[str]) -> None:
    async with httpx.AsyncClient(timeout=5.0) as client:
        async def writer(w: int) -> None:
            for i in range(10_000):
                mid = f"w{w}-{i}"
                try:
                    r = await client.post(url + "/api/comments", json={
                        "id": mid, "text": f"m {mid}", "domain": "saywhatwant.app",
                        "botParams": {"entity": "ei"}})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.append(mid)

        async def killer() -> None:
            while len(acked) < 150:  # noqa: ASYNC110 - the writers append, nothing to await
                await asyncio.sleep(0.01)
            _kill9(proc)

        await asyncio.gather(killer(), *(writer(w) for w in range(8)))


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite3"
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    acked: list[str] = []
    with running(_start(db, port), ready_url=url + "/api/stats") as proc:
        asyncio.run(_post_until_killed(url, proc, acked))
        assert proc.poll() == -signal.SIGKILL
    assert len(acked) >= 150
    with sqlite3.connect(db) as conn:  # straight from the file the killed process left
        on_disk = {row[0] for row in conn.execute("SELECT id FROM records")}
    assert set(acked) <= on_disk
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    with running(_start(db, port), ready_url=url + "/api/stats"):
        stats = httpx.get(url + "/api/stats").json()
        assert stats["board"]["records"] == len(on_disk)
        assert 0 < stats["cacheSize"] <= 200
        assert int(httpx.get(url + "/api/heartbeat").text) > 0  # survived too
        for mid in acked[:: max(1, len(acked) // 20)]:  # and the server serves them
            r = httpx.post(url + "/api/queue/claim", json={"messageId": mid, "workerId": "w"})
            assert r.status_code == 200


def test_restart_keeps_records_cache_and_queue_state(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite3"
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    with running(_start(db, port), ready_url=url + "/api/stats") as proc:
        ids = [httpx.post(url + "/api/comments", json={
            "text": f"t{i}", "domain": "saywhatwant.app",
            "botParams": {"entity": "ei"}}).json()["id"] for i in range(3)]
        httpx.post(url + "/api/queue/claim", json={"messageId": ids[0], "workerId": "w"})
        _kill9(proc)
    time.sleep(0.1)
    with running(_start(db, port), ready_url=url + "/api/stats"):
        pending = [m["id"] for m in httpx.get(url + "/api/queue/pending").json()["pending"]]
        assert pending == ids[1:]
        assert len(httpx.get(url + "/api/comments?after=0").json()) == 3
