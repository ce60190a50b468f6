"""Memory and request rate of the simulator: 16 LM Studio hosts x 100 models in one process.

Usage: .venv/bin/python benchmarks/sim_overhead.py [--hosts 16] [--models 100] [--seconds 10]
       [--concurrency 64] [--stream]

Writes a cluster file to a temporary directory, runs `botcluster sim` on it as a child process,
and prints the child's RSS when idle and after load, and the chat completions per second it
sustained. Generation is made nearly instant (no time to first token, a million tokens/s) so the
figure is the HTTP and bookkeeping cost of the simulator itself. The load generator is one
Python process on the same machine, so it competes for the CPU: the rate is a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def cluster_toml(hosts: int, models: int) -> str:
    lines = ["seed = 1", "time_scale = 0.001", ""]
    for h in range(hosts):
        lines += ["[[hosts]]", f'name = "studio-{h}"', "memory_gb = 10000.0",
                  "slots_per_model = 4", "slots_per_host = 4", "ttft_s = 0.0",
                  "tokens_per_s = 1000000.0", "models = ["]
        lines += [f'  {{ key = "entity-{m}@f16", size_gb = 4.0, loaded = {str(m < 10).lower()} }},'
                  for m in range(models)]
        lines += ["]", ""]
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(urls: list[str], seconds: float, concurrency: int, stream: bool) -> tuple[int, int]:
    """Send chat completions round-robin over the hosts; return (ok, failed)."""
    ok = failed = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(n: int) -> None:
            nonlocal ok, failed
            i = n
            while time.monotonic() < deadline:
                url = urls[i % len(urls)]
                body = {"model": f"entity-{i % 10}@f16", "max_tokens": 16, "stream": stream,
                        "messages": [{"role": "user", "content": f"hello {i}"}]}
                i += concurrency
                try:
                    r = await client.post(url + "/v1/chat/completions", json=body)
                    ok += r.status_code == 200
                    failed += r.status_code != 200
                except httpx.HTTPError:
                    failed += 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return ok, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=16)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cluster, ports = Path(tmp) / "cluster.toml", Path(tmp) / "ports.json"
        cluster.write_text(cluster_toml(args.hosts, args.models))
        proc = subprocess.Popen(
            [sys.executable, "-m", "botcluster", "sim", str(cluster), "--ports-file", str(ports)],
            stdout=subprocess.PIPE, start_new_session=True)
        try:
            assert proc.stdout is not None
            for _ in range(args.hosts):
                proc.stdout.readline()
            urls = list(json.loads(ports.read_text()).values())
            idle = rss_mb(proc.pid)
            cpu0 = cpu_seconds(proc.pid)
            started, client_cpu0 = time.monotonic(), time.process_time()
            ok, failed = asyncio.run(load(urls, args.seconds, args.concurrency, args.stream))
            elapsed = time.monotonic() - started
            client_cpu = time.process_time() - client_cpu0
            busy = rss_mb(proc.pid)
            cpu = cpu_seconds(proc.pid) - cpu0
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    print(f"hosts={args.hosts} models/host={args.models} concurrency={args.concurrency} "
          f"stream={args.stream}")
    print(f"sim RSS idle: {idle:.1f} MB, after load: {busy:.1f} MB")
    print(f"requests: {ok} ok, {failed} failed in {elapsed:.1f}s = {ok / elapsed:.0f} req/s")
    print(f"sim CPU: {cpu:.1f}s ({100 * cpu / elapsed:.0f}% of one core), "
          f"{ok / cpu if cpu else float('nan'):.0f} req per sim CPU-second; "
          f"load generator CPU: {100 * client_cpu / elapsed:.0f}% of one core")


if __name__ == "__main__":
    main()
