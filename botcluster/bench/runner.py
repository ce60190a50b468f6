"""Runs one workload through each strategy on a freshly started, identical simulated cluster."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botcluster.bench import litellm_driver
from botcluster.bench.botconfig import concurrency, write_config
from botcluster.bench.botrun import BotProcess, drive_bot, warm_up
from botcluster.bench.bound import Bound, lower_bound
from botcluster.bench.drivers import Run, run_round_robin, run_serial
from botcluster.bench.peers import run_llama_swap, run_site_router, run_warm_first
from botcluster.bench.progress import Progress
from botcluster.bench.results import StrategyResult, report, summarize
from botcluster.bench.simproc import SimProcess, totals
from botcluster.bench.workload import Request, entities
from botcluster.errors import BotclusterError
from botcluster.sim.spec import ClusterSpec, load_cluster

log = logging.getLogger(__name__)

STRATEGIES = ("botcluster", "serial", "round-robin", "litellm", "llama-swap", "site-router",
              "warm-first")
PEERS = STRATEGIES[1:]


@dataclass(frozen=True)
class BenchSettings:
    cluster_file: Path
    time_scale: float = 0.05
    deadline_factor: float = 20.0  # give up at this multiple of the lower bound ...
    max_real_s: float = 900.0  # ... or after this many real seconds, whichever is first
    workers: int = 2  # the bot's worker processes
    poll_interval_s: float = 0.05  # the bot's comments poll (real seconds)
    workdir: Path | None = None  # None: a temporary directory, removed afterwards


def run_bench(requests: Sequence[Request], settings: BenchSettings,
              strategies: Sequence[str]) -> dict[str, Any]:
    """Every strategy in turn; the report dict (see results.report)."""
    cluster = load_cluster(settings.cluster_file)
    bound = lower_bound(requests, cluster)
    strict = lower_bound(requests, cluster, strict=True)
    out: dict[str, StrategyResult] = {}
    with tempfile.TemporaryDirectory(prefix="botcluster-bench-") as tmp:
        base = settings.workdir or Path(tmp)
        for name in strategies:
            workdir = base / name
            workdir.mkdir(parents=True, exist_ok=True)
            out[name] = run_strategy(name, requests, cluster, bound, settings, workdir)
    bound_d = {**asdict(bound), "strict_lower_bound_s": strict.lower_bound_s}
    return report(bound_d, out)


def run_strategy(name: str, requests: Sequence[Request], cluster: ClusterSpec, bound: Bound,
                 settings: BenchSettings, workdir: Path) -> StrategyResult:
    """One strategy's result; a strategy that cannot run is reported, not raised."""
    try:
        return _run_strategy(name, requests, cluster, bound, settings, workdir)
    except BotclusterError as exc:
        log.error("%s failed: %s", name, exc)
        return StrategyResult(skipped=f"failed: {exc}", lost=len(requests))


def _run_strategy(name: str, requests: Sequence[Request], cluster: ClusterSpec, bound: Bound,
                  settings: BenchSettings, workdir: Path) -> StrategyResult:
    if name == "litellm":
        if not litellm_driver.available():
            return StrategyResult(skipped=f"LiteLLM is not installed: {litellm_driver.INSTALL}")
        litellm_driver.import_litellm()  # slow the first time: not inside the measurement
    sim = SimProcess(settings.cluster_file, settings.time_scale, workdir)
    bot: BotProcess | None = None
    started = time.monotonic()
    try:
        urls = sim.start()
        if name == "botcluster":
            setup = write_config(workdir, cluster, urls, entities(requests),
                                 workers=settings.workers,
                                 poll_interval_s=settings.poll_interval_s)
            bot = BotProcess(setup, workdir)
            bot.start()
            asyncio.run(warm_up(setup))
        sim.reset_stats()
        run = Run(requests=requests, cluster=cluster, urls=urls,
                  time_scale=settings.time_scale, concurrency=concurrency(cluster),
                  deadline_s=min(bound.lower_bound_s * settings.deadline_factor,
                                 settings.max_real_s / settings.time_scale))
        progress = Progress(name, len(requests), run.now_s)
        run.on_done = progress.step
        replies = asyncio.run(_drive(name, run, bot))
        progress.close()
        stats = sim.stats()
    finally:
        if bot is not None:
            bot.stop()
        sim.stop()
    result = summarize(requests, run.done_s, bound.lower_bound_s, replies)
    t = totals(stats)
    result.loads, result.evictions = int(t["loads"]), int(t["evictions"] + t["unloads"])
    result.busy_slot_s = round(t["busy_slot_seconds"], 1)
    result.peak_predictions = {h: int(s.get("peak_active", 0)) for h, s in stats.items()}
    result.real_s = round(time.monotonic() - started, 1)
    keys = ("loads", "load_seconds", "evictions", "unloads", "busy_slot_seconds",
            "predictions", "peak_active")
    result.extra.update({"hosts": {h: {k: s.get(k) for k in keys} for h, s in stats.items()},
                         "time_scale": settings.time_scale})
    return result


async def _drive(name: str, run: Run, bot: BotProcess | None) -> dict[int, int] | None:
    run.started = time.monotonic()
    wall = time.time()
    if name == "botcluster":
        assert bot is not None
        counts = await drive_bot(run, bot.setup, wall)
        index = {f"bench{r.index:06d}": r.index for r in run.requests}
        return {index[mid.split("-", 1)[1]]: n for mid, n in counts.items()}
    drivers: dict[str, Callable[[Run], Any]] = {
        "serial": run_serial, "round-robin": run_round_robin,
        "litellm": litellm_driver.run_litellm, "llama-swap": run_llama_swap,
        "site-router": run_site_router, "warm-first": run_warm_first}
    await drivers[name](run)
    return None
