"""Tokens per second of the real local host (SmolLM2 on llama.cpp) at 1 and 2 concurrent requests.

Usage: .venv/bin/python benchmarks/local_host_speed.py [--rounds 3] [--max-tokens 128]

Starts `botcluster local-host` with 2 slots on a free loopback port, sends `rounds` batches of
1 and then 2 concurrent chat completions, and prints completion tokens per wall-clock second
(total over the batch) and per request.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time

from openai import AsyncOpenAI

from botcluster.config.model import HostConfig, LocalServer
from botcluster.hosts.local import LocalHostProcess

PROMPT = "Write a short story about a lighthouse keeper and a storm."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def batch(client: AsyncOpenAI, n: int, max_tokens: int) -> tuple[int, float]:
    """Run `n` concurrent completions; return (completion tokens, wall seconds)."""
    started = time.perf_counter()
    replies = await asyncio.gather(*(
        client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": PROMPT}],
            max_tokens=max_tokens, temperature=0.8)
        for _ in range(n)))
    elapsed = time.perf_counter() - started
    return sum(r.usage.completion_tokens for r in replies if r.usage), elapsed


async def measure(url: str, rounds: int, max_tokens: int) -> None:
    client = AsyncOpenAI(base_url=url + "/v1", api_key="x")
    await batch(client, 1, 8)  # warm-up
    for n in (1, 2):
        tokens, seconds = 0, 0.0
        for _ in range(rounds):
            t, s = await batch(client, n, max_tokens)
            tokens += t
            seconds += s
        print(f"concurrent={n}: {tokens / seconds:6.1f} tokens/s total, "
              f"{tokens / seconds / n:6.1f} per request ({tokens} tokens in {seconds:.2f}s)")
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    host = HostConfig(name="bench", url=f"http://127.0.0.1:{free_port()}", kind="llamacpp",
                      slots=2, models=("smollm2",), local=LocalServer(ctx_size=4096))
    proc = LocalHostProcess(host)
    proc.start()
    try:
        proc.wait_ready(60)
        asyncio.run(measure(host.url, args.rounds, args.max_tokens))
    finally:
        proc.stop()


if __name__ == "__main__":
    main()
