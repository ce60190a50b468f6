"""A worker's other dispatcher calls do not wait behind its parked claims.

Found by `botcluster bench` on the 16-host cluster: with 40 claim loops per worker, each
parking a thread in `claim` for up to a second, asyncio's default executor (CPUs + 4 threads)
queued acks and journal writes behind them, and one short reply took a minute.
"""

from __future__ import annotations

import asyncio
import time

from botcluster.core.link import DispatcherLink
from botcluster.core.worker import CLAIM_WAIT_S, thread_pool
from tests.core.helpers import dispatcher, host

LOOPS = 40


async def heartbeat_while_claims_park() -> float:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(thread_pool(LOOPS))
    link = DispatcherLink(dispatcher([host("h", loaded=("m1",))]))  # nothing to claim
    parked = [asyncio.create_task(link.claim("w", CLAIM_WAIT_S)) for _ in range(LOOPS)]
    await asyncio.sleep(0.1)  # every claim is now waiting in its thread
    started = time.monotonic()
    await link.heartbeat("w", 1)
    took = time.monotonic() - started
    await asyncio.gather(*parked)
    return took


def test_a_heartbeat_is_not_queued_behind_parked_claims() -> None:
    assert asyncio.run(heartbeat_while_claims_park()) < CLAIM_WAIT_S / 2
