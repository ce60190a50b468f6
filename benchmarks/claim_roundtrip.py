"""Cost of one claim round trip through the multiprocessing manager, as a worker pays it.

Starts the real manager (Unix socket, random authkey, spawn) with a dispatcher holding
`--jobs` queued jobs on `--hosts` hosts, then from a separate process times claim() and
ack() calls through a proxy, and prints p50/p95/p99 in microseconds.

    .venv/bin/python benchmarks/claim_roundtrip.py [--jobs 2000] [--hosts 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

from botcluster.config.model import Entity
from botcluster.core.cluster import HostView
from botcluster.core.dispatcher import DispatcherSettings
from botcluster.core.jobs import Job
from botcluster.core.manager import ManagerAddress, ManagerServer


def _client(address: ManagerAddress, n: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    d = address.connect()
    claims, acks = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        c = d.claim("bench-w0", 0.0)
        t1 = time.perf_counter()
        if c is None:
            break
        d.ack(c.lease.lease_id, "replied", None, c.job.message_id)
        t2 = time.perf_counter()
        claims.append(t1 - t0)
        acks.append(t2 - t1)
    out.put((claims, acks))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--hosts", type=int, default=4)
    args = ap.parse_args()
    hosts = [HostView(name=f"h{i}", slots=1000, loaded={"m": 4096}) for i in range(args.hosts)]
    entity = Entity(id="e", username="E", model="m")
    server = ManagerServer(DispatcherSettings(lease_s=600), hosts, {"e": entity})
    proxy = server.start()
    now = time.time()
    proxy.offer([Job(message_id=f"j{i}", entity="e", model="m", priority=50,
                     enqueued_at=now, message=None) for i in range(args.jobs)])
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    p = ctx.Process(target=_client, args=(server.address, args.jobs, out))
    p.start()
    claims, acks = out.get(timeout=300)
    p.join()
    server.stop()
    for name, xs in (("claim", claims), ("ack", acks)):
        q = statistics.quantiles([x * 1e6 for x in xs], n=100)
        print(f"{name:5s} round trip over {len(xs)} calls: p50 {q[49]:.0f} us, "
              f"p95 {q[94]:.0f} us, p99 {q[98]:.0f} us")


if __name__ == "__main__":
    main()
