"""How long a /metrics scrape of the bot takes: 8 workers, 16 hosts, 100 models.

Usage: .venv/bin/python benchmarks/scrape_time.py [--hosts 16] [--models 100] [--workers 8]
       [--messages 300] [--scrapes 100]

Runs `botcluster sim` with HOSTS simulated LM Studio hosts that each serve MODELS models (10
loaded at start), and `botcluster start` on them with WORKERS worker processes, one entity per
model and the embedded board. It first posts MESSAGES human messages round-robin over the
entities and waits until the bot has finished them all, so that every worker has written its
own metric files for many hosts (the multiprocess collector reads one file per process and
type on every scrape). Then it times SCRAPES sequential GETs of /metrics from this process and
prints p50, p95 and max, the body size, the number of samples and of metric files read.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def model(m: int) -> str:
    return f"model-{m}@f16"


def cluster_toml(hosts: int, models: int) -> str:
    lines = ["seed = 1", "time_scale = 0.01", ""]
    for h in range(hosts):
        lines += ["[[hosts]]", f'name = "studio-{h}"', "port = 0", "memory_gb = 10000.0",
                  "slots_per_model = 4", "slots_per_host = 4", "jit = false",
                  "ttft_s = 0.0", "tokens_per_s = 1000.0", "load_gb_per_s = 40.0", "models = ["]
        lines += [f'  {{ key = "{model(m)}", size_gb = 4.0, '
                  f'loaded = {str(m % 10 == h % 10).lower()} }},' for m in range(models)]
        lines += ["]", ""]
    return "\n".join(lines)


def servers_toml(tmp: Path, urls: dict[str, str], models: int,
                 workers: int) -> tuple[str, int, int]:
    board, metrics = free_port(), free_port()
    lines = ["[bot]", "poll_interval_s = 0.2", f"workers = {workers}", "jobs_per_worker = 4",
             f'journal_path = "{tmp}/journal.jsonl"', "",
             "[board]", f'host = "{LOOPBACK}"', f"port = {board}",
             f'db_path = "{tmp}/board.db"', "",
             "[metrics]", f'host = "{LOOPBACK}"', f"port = {metrics}",
             f'multiproc_dir = "{tmp}/prom"', ""]
    for name, url in urls.items():
        lines += ["[[hosts]]", f'name = "{name}"', f'url = "{url}"', 'kind = "lmstudio"',
                  "slots = 4", "memory_gb = 10000.0", ""]
    for m in range(models):
        lines += ["[[entities]]", f'id = "e{m}"', f'username = "E{m}"',
                  f'baseModel = "{model(m)}"', "maxTokens = 8", "nom = 1", ""]
    return "\n".join(lines), board, metrics


def start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def jobs_done(metrics_url: str) -> float:
    text = httpx.get(metrics_url + "/metrics", timeout=30).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("botcluster_jobs_total{"))


def post(board_url: str, entities: int, n: int) -> None:
    stamp = int(time.time() * 1000)
    with httpx.Client(timeout=10) as client:
        for i in range(n):
            client.post(board_url + "/api/comments", json={
                "id": f"{stamp}-s{i}", "text": f"hello {i}", "timestamp": int(time.time() * 1000),
                "username": "Human", "color": "080195229", "domain": "saywhatwant.app",
                "language": "en", "message-type": "human", "misc": "", "context": [],
                "botParams": {"entity": f"e{i % entities}"}}).raise_for_status()


def measure(metrics_url: str, scrapes: int) -> tuple[list[float], int, int]:
    times = []
    with httpx.Client(timeout=30) as client:
        for _ in range(scrapes):
            t0 = time.perf_counter()
            body = client.get(metrics_url + "/metrics").content
            times.append(time.perf_counter() - t0)
    lines = body.decode().splitlines()
    return times, len(body), sum(1 for line in lines if line and not line.startswith("#"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--scrapes", type=int, default=100)
    args = parser.parse_args()
    botcluster = [sys.executable, "-m", "botcluster"]
    with tempfile.TemporaryDirectory(prefix="scrape-time-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "cluster.toml").write_text(cluster_toml(args.hosts, args.models))
        procs = [start([*botcluster, "sim", str(tmp / "cluster.toml"), "--ports-file",
                        str(tmp / "ports.json")], tmp / "sim.log")]
        try:
            wait_until(lambda: (tmp / "ports.json").exists(), 60, "the simulator")
            urls = json.loads((tmp / "ports.json").read_text())
            text, board, metrics = servers_toml(tmp, urls, args.models, args.workers)
            (tmp / "servers.toml").write_text(text)
            procs.append(start([*botcluster, "start", "--config", str(tmp / "servers.toml")],
                               tmp / "bot.log"))
            metrics_url = f"http://{LOOPBACK}:{metrics}"
            wait_until(lambda: httpx.get(metrics_url + "/readyz", timeout=5).status_code == 200,
                       120, "the bot")
            post(f"http://{LOOPBACK}:{board}", args.models, args.messages)
            wait_until(lambda: jobs_done(metrics_url) >= args.messages, 600, "the replies")
            times, size, samples = measure(metrics_url, args.scrapes)
            files = len(list((tmp / "prom").glob("*.db")))
        finally:
            for p in reversed(procs):
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(30)
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"hosts={args.hosts} models={args.models} workers={args.workers} "
          f"messages={args.messages} scrapes={args.scrapes}")
    print(f"scrape: p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")
    print(f"size: {size / 1024:.0f} KiB, {samples} samples, from {files} metric files")


if __name__ == "__main__":
    main()
