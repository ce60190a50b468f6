"""Deterministic workload and cluster generators for the shipped benchmark scenarios.

Each kind returns the workload and the simulated cluster it is meant for; the same kind, size
and seed always give the same files (one `random.Random(seed)` drives everything).

- `burst`: the users' test: `size` (29) messages within one second, to 6 personas on two
  LM Studio Mac Studios that run one prediction at a time.
- `day`: a day of traffic compressed into `size` messages over one simulated hour, with a
  daily rate curve (night trough, evening peak), 12 personas with skewed popularity, 4 hosts.
- `swap`: a flood of `size` messages to 40 personas with 40 different models on 2 hosts whose
  memory holds one model at a time: the scheduler decides how often models are swapped.
- `large`: 16 hosts, 100 models (Zipf popularity), `size` messages over ten minutes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botcluster.bench.workload import Request

DEFAULT_SIZES = {"burst": 29, "day": 300, "swap": 240, "large": 800,
                 "many": 480, "hotspot": 200, "flash": 330, "unequal": 300}


@dataclass(frozen=True)
class Scenario:
    kind: str
    requests: list[Request]
    cluster: dict[str, Any]  # the simulator's cluster file as a dict (see sim/spec.py)


def generate(kind: str, size: int | None = None, seed: int = 1) -> Scenario:
    """The scenario `kind` with `size` messages (its default when None)."""
    from botcluster.bench import regimes  # here: regimes builds on this module

    makers: dict[str, Callable[[random.Random, int], Scenario]] = {
        "burst": _burst, "day": _day, "swap": _swap, "large": _large, "many": regimes.many,
        "hotspot": regimes.hotspot, "flash": regimes.flash, "unequal": regimes.unequal}
    if kind not in makers:
        raise ValueError(f"unknown workload kind {kind!r}; one of {', '.join(makers)}")
    n = DEFAULT_SIZES[kind] if size is None else size
    if n < 1:
        raise ValueError("size must be at least 1")
    scenario = makers[kind](random.Random(seed), n)
    scenario.cluster["seed"] = seed
    return scenario


def _host(name: str, memory_gb: float, slots: int, models: list[dict[str, Any]],
          **extra: Any) -> dict[str, Any]:
    """An LM Studio host. Every generated host states what a load does to its generation:
    by default nothing (`load_blocks_generation` false, `load_slowdown` 0), as the four first
    workloads were measured."""
    return {"name": name, "flavour": "lmstudio", "memory_gb": memory_gb,
            "slots_per_model": slots, "slots_per_host": slots, "jit": True, "auto_evict": True,
            "load_gb_per_s": 2.0, "ttft_s": 0.4, "tokens_per_s": 25.0,
            "load_blocks_generation": False, "load_slowdown": 0.0, **extra, "models": models}


def _models(rng: random.Random, n: int, low_gb: float, high_gb: float) -> list[dict[str, Any]]:
    return [{"key": f"persona-{i:03d}@q8_0", "size_gb": round(rng.uniform(low_gb, high_gb), 1),
             "context_length": 8192} for i in range(n)]


def _requests(rng: random.Random, times: list[float], personas: list[tuple[str, str, int]],
              weights: list[float], urgent: float = 0.1) -> list[Request]:
    """One message per arrival time to a persona drawn by weight; some are urgent (priority
    80), most default (50)."""
    out = []
    for i, t in enumerate(sorted(times)):
        entity, model, max_tokens = rng.choices(personas, weights)[0]
        out.append(Request(t=round(t, 3), entity=entity, model=model,
                           prompt_tokens=rng.randint(20, 200), max_tokens=max_tokens,
                           priority=80 if rng.random() < urgent else 50, index=i))
    return out


def _personas(models: list[dict[str, Any]], rng: random.Random,
              tokens: tuple[int, int]) -> list[tuple[str, str, int]]:
    return [(f"entity-{i:03d}", m["key"], rng.randint(*tokens)) for i, m in enumerate(models)]


def _burst(rng: random.Random, n: int) -> Scenario:
    models: list[dict[str, Any]] = [
              {"key": "the-eternal@f16", "size_gb": 16.0, "context_length": 8192},
              {"key": "the-oracle@f16", "size_gb": 16.0, "context_length": 8192},
              {"key": "the-jester@q8_0", "size_gb": 8.5, "context_length": 4096},
              {"key": "the-muse@q8_0", "size_gb": 8.5, "context_length": 4096},
              {"key": "the-sage@q4_k_m", "size_gb": 5.0, "context_length": 4096},
              {"key": "the-critic@q4_k_m", "size_gb": 5.0, "context_length": 4096}]
    first = [dict(m, loaded=True) if i < 2 else m for i, m in enumerate(models)]
    second = [dict(m, loaded=True) if i in (0, 2) else m for i, m in enumerate(models)]
    hosts = [_host("studio-1", 48.0, 1, first, load_gb_per_s=1.5),
             _host("studio-2", 48.0, 1, second, load_gb_per_s=1.5)]
    personas = [(str(m["key"]).split("@")[0], str(m["key"]), 120) for m in models]
    times = [rng.uniform(0.0, 1.0) for _ in range(n)]
    return Scenario("burst", _requests(rng, times, personas, [1.0] * len(personas)),
                    {"hosts": hosts})


def _day(rng: random.Random, n: int) -> Scenario:
    models = _models(rng, 12, 4.0, 16.0)
    hosts = [_host(f"studio-{h + 1}", 64.0, 4 if h < 2 else 1,
                   [dict(m, loaded=(i % 4 == h)) for i, m in enumerate(models)])
             for h in range(4)]
    personas = _personas(models, rng, (80, 200))
    weights = [1.0 / (i + 1) for i in range(len(personas))]

    def rate(t: float) -> float:  # one day in 3600 s: trough at 4 a.m., peak at 9 p.m.
        hour = t / 150.0
        return 0.35 + 0.65 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4.0) / 24.0)) ** 2

    times: list[float] = []
    while len(times) < n:  # thinning: accept a uniform time with probability rate(t)
        t = rng.uniform(0.0, 3600.0)
        if rng.random() < rate(t):
            times.append(t)
    return Scenario("day", _requests(rng, times, personas, weights), {"hosts": hosts})


def _swap(rng: random.Random, n: int) -> Scenario:
    models = _models(rng, 40, 12.0, 16.0)
    # 24 GB holds one of these f16-sized models at a time, and a load (12 to 16 s) costs about
    # three replies: every change of model is an expensive swap.
    hosts = [_host(f"studio-{h + 1}", 24.0, 1,
                   [dict(m, loaded=(i == h)) for i, m in enumerate(models)], load_gb_per_s=1.0)
             for h in range(2)]
    personas = _personas(models, rng, (100, 200))
    times = [rng.uniform(0.0, 60.0) for _ in range(n)]
    return Scenario("swap", _requests(rng, times, personas, [1.0] * len(personas)),
                    {"hosts": hosts})


def _large(rng: random.Random, n: int) -> Scenario:
    models = _models(rng, 100, 4.0, 16.0)
    hosts = [_host(f"studio-{h + 1:02d}", 64.0, 4,
                   [dict(m, loaded=(i % 16 == h and i < 48)) for i, m in enumerate(models)])
             for h in range(16)]
    personas = _personas(models, rng, (80, 200))
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(personas))]
    times = [rng.uniform(0.0, 600.0) for _ in range(n)]
    return Scenario("large", _requests(rng, times, personas, weights), {"hosts": hosts})


def interference_note(cluster: dict[str, Any]) -> str:
    """One line per host of what a load does to its generation (docs/SIMULATOR.md)."""
    lines = ["What a load does to generation on each host (load_blocks_generation, load_slowdown):"]
    for h in cluster["hosts"]:
        what = ("stops it" if h["load_blocks_generation"] else
                f"slows it by {h['load_slowdown']:.0%}" if h["load_slowdown"] else "nothing")
        lines.append(f"  {h['name']}: {what}")
    return "\n".join(lines)


def cluster_toml(cluster: dict[str, Any], comment: str = "") -> str:
    """The simulator's cluster file for `cluster` (only the value types generators use)."""
    lines = [f"# {ln}" for ln in comment.splitlines()]
    for key in ("seed", "time_scale"):
        if key in cluster:
            lines.append(f"{key} = {_value(cluster[key])}")
    for host in cluster["hosts"]:
        lines += ["", "[[hosts]]"]
        lines += [f"{k} = {_value(v)}" for k, v in host.items() if k != "models"]
        lines.append("models = [")
        for m in host["models"]:
            lines.append("  { " + ", ".join(f"{k} = {_value(v)}" for k, v in m.items()) + " },")
        lines.append("]")
    return "\n".join(lines) + "\n"


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(v)
