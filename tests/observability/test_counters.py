"""Metrics across process deaths: a killed worker leaves no stuck gauge and takes none of its
counts with it, and a restarted bot counts from zero instead of adding to the last run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.observability.botrun import (
    post,
    post_and_wait,
    scrape,
    started,
    value,
    with_metrics_keys,
    worker_pids,
)
from tests.support.simbot import write_bot
from tests.support.site import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# Counters an operator graphs with rate(): a drop reads as a counter reset.
COUNTERS = (
    ("botcluster_jobs_total", {"outcome": "replied"}),
    ("botcluster_llm_requests_total", {"outcome": "ok"}),
    ("botcluster_generation_seconds_count", {}),
    ("botcluster_reply_seconds_count", {}),
    ("botcluster_polls_total", {}),
)


def counters(text: str) -> dict[str, float]:
    return {name: value(text, name, **labels) for name, labels in COUNTERS}


def test_a_worker_killed_mid_request_leaves_no_inflight_and_keeps_its_counts(
        tmp_path: Path, slow_sim: dict[str, str]) -> None:
    """Two replies first (counted by the workers), then every worker is SIGKILLed while two
    more generate. The jobs are reclaimed and answered by the replacements; meanwhile no
    counter ever goes down, and host_inflight returns to 0."""
    bot = write_bot(tmp_path, slow_sim, workers=2, jobs=1)
    log = tmp_path / "bot.log"
    stamp = int(time.time() * 1000)
    with started(bot, log) as proc:
        post_and_wait(bot, [f"{stamp}-a{i}" for i in range(2)])
        # The gauges are published about once a second: let them settle first, so that the
        # in-flight job seen below is one of the next two.
        wait_for(lambda: (value(text := scrape(bot), "botcluster_jobs_total", outcome="replied")
                          == 2 and value(text, "botcluster_host_inflight") == 0),
                 timeout=10, interval=0.2)
        before = counters(scrape(bot))
        assert before["botcluster_llm_requests_total"] == 2

        post(bot, [f"{stamp}-b{i}" for i in range(2)])
        wait_for(lambda: value(scrape(bot), "botcluster_host_inflight", host="sim-0") >= 1,
                 timeout=20, interval=0.1)
        victims = worker_pids(proc, log)
        assert len(victims) == 2
        for pid in victims:
            os.kill(pid, signal.SIGKILL)

        seen = [before]

        def recovered() -> bool:
            text = scrape(bot)
            seen.append(counters(text))
            return (value(text, "botcluster_jobs_total", outcome="replied") == 4
                    and value(text, "botcluster_host_inflight") == 0
                    and value(text, "botcluster_queue_depth", state="claimed") == 0)

        wait_for(recovered, timeout=60, interval=0.2)
        text = scrape(bot)

    for name, _ in COUNTERS:
        series = [s[name] for s in seen]
        assert series == sorted(series), f"{name} went down: {series}"
    assert value(text, "botcluster_llm_requests_total", outcome="ok") >= 4
    assert value(text, "botcluster_worker_restarts_total") >= 2
    assert value(text, "botcluster_claims_reclaimed_total") >= 1
    assert value(text, "botcluster_workers_alive") == 2
    assert value(text, "botcluster_host_inflight", host="sim-0") == 0


def test_a_restarted_bot_counts_from_zero(tmp_path: Path, sim2: dict[str, str]) -> None:
    """Both runs use the same [metrics] multiproc_dir, so the first run's files are still there
    when the second starts: the start must wipe them, or every counter would be old + new."""
    prom = tmp_path / "var" / "prom"
    bot = with_metrics_keys(write_bot(tmp_path, sim2), multiproc_dir=prom)
    stamp = int(time.time() * 1000)

    with started(bot, tmp_path / "run1.log"):
        post_and_wait(bot, [f"{stamp}-r1-{i}" for i in range(3)])
        wait_for(lambda: value(scrape(bot), "botcluster_jobs_total", outcome="replied") == 3,
                 timeout=20, interval=0.2)
        first = counters(scrape(bot))
    assert first["botcluster_llm_requests_total"] == 3
    assert first["botcluster_reply_seconds_count"] == 3
    assert list(prom.glob("*.db")), "the first run leaves its metric files behind"

    with started(bot, tmp_path / "run2.log"):
        fresh = counters(scrape(bot))
        post_and_wait(bot, [f"{stamp}-r2-{i}" for i in range(2)])
        wait_for(lambda: value(scrape(bot), "botcluster_jobs_total", outcome="replied") >= 2,
                 timeout=20, interval=0.2)
        time.sleep(1.0)  # a few more publishes: old counts coming back would show now
        second = counters(scrape(bot))
    assert fresh["botcluster_jobs_total"] == 0
    assert fresh["botcluster_llm_requests_total"] == 0
    assert fresh["botcluster_reply_seconds_count"] == 0
    assert second["botcluster_jobs_total"] == 2
    assert second["botcluster_llm_requests_total"] == 2
    assert second["botcluster_reply_seconds_count"] == 2
