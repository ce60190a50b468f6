"""Measure what the cache race loses: `python -m tests.board.measure_race [--runs N]`.

Starts a real `botcluster board --cache-race` subprocess on loopback for each burst size, sends
N concurrent POSTs (each on its own connection, released together), then counts the messages
missing from the recent cache and the records that exist. Prints one line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import httpx

from tests.support.procs import LOOPBACK, botcluster_cmd, free_port, running


async def burst(url: str, n: int, tag: str) -> list[str]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        start = asyncio.Event()

        async def one(i: int) -> str:
            await start.wait()
            r = await client.post(url + "/api/comments", json={
                "id": f"{tag}-{i}", "text": f"{tag} {i}", "username": "Human",
                "domain": "saywhatwant.app", "botParams": {"entity": "ei"}})
            r.raise_for_status()
            return str(r.json()["id"])

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.sleep(0.1)
        start.set()
        return list(await asyncio.gather(*tasks))


def measure(n: int, pause_ms: float, race: bool, workdir: Path) -> tuple[int, int]:
    """(messages missing from the cache, records present) after one burst of n."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    args = ["board", "--port", str(port), "--db", str(workdir / f"race-{port}.sqlite3"),
            "--race-pause-ms", str(pause_ms), "--log-level", "WARNING"]
    if race:
        args.append("--cache-race")
    with running(botcluster_cmd(*args), ready_url=url + "/api/stats"):
        ids = asyncio.run(burst(url, n, f"b{n}"))
        cached = {m["id"] for m in httpx.get(url + "/api/comments?after=0&limit=1000").json()}
        records = httpx.get(url + "/api/stats").json()["board"]["records"]
    return len(set(ids) - cached), int(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pause-ms", type=float, default=5.0)
    parser.add_argument("--sizes", default="29,200")
    parser.add_argument("--no-race", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in opts.sizes.split(",")):
            losses = []
            for run in range(opts.runs):
                lost, records = measure(n, opts.pause_ms, not opts.no_race, Path(tmp))
                losses.append(lost)
                print(f"burst {n} run {run + 1}: cache lost {lost}/{n}, records {records}/{n}",
                      flush=True)
            print(f"burst {n}: lost median {statistics.median(losses)}, min {min(losses)}, "
                  f"max {max(losses)} over {opts.runs} runs (pause {opts.pause_ms} ms)")


if __name__ == "__main__":
    main()
