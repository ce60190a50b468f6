"""The generated regimes of the benchmark matrix, beyond the four first workloads.

Each states what a load does to its hosts' generation (`load_blocks_generation`,
`load_slowdown`), and each is small enough for one strategy to run in about a minute of real
time at time scale 0.05 (a few hundred simulated seconds of traffic).

- `many`: many models per host with parallel slots under a host cap. 4 Mac Studios of 128 GB,
  90 f16 personas of 15 to 18 GB (about 7 fit per host), LM Studio 0.4 with 2 parallel slots per
  loaded model and 4 concurrent predictions per host; Zipf popularity whose head shifts halfway;
  open arrivals below capacity; one 29-message burst to cold personas. A load costs the host
  30% of its generation speed (memory bandwidth).
- `hotspot`: one persona takes half the traffic, on the seeds' serialized hosts (one prediction
  at a time; a load stops the host).
- `flash`: a day compressed into ten minutes, with a flash crowd: a thread goes viral and 80
  messages to three personas (two of them cold) arrive within 20 s. Loads halve generation.
- `unequal`: hosts of unequal speed: a fast new host (LM Studio 0.4, loads overlap generation),
  a middle one, and two slow old ones that run one prediction at a time and stop while loading.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

from botcluster.bench.generate import Scenario, _host, _models, _personas, _requests
from botcluster.bench.workload import Request


def _zipf(n: int, s: float = 1.1) -> list[float]:
    return [1.0 / (i + 1) ** s for i in range(n)]


def _open_arrivals(rng: random.Random, n: int, start: float, end: float) -> list[float]:
    """`n` Poisson arrivals over [start, end] (uniform order statistics)."""
    return [rng.uniform(start, end) for _ in range(n)]


def many(rng: random.Random, n: int) -> Scenario:
    models = _models(rng, 90, 15.0, 18.0)
    for m in models:
        m["key"] = str(m["key"]).replace("@q8_0", "@f16")
    personas = _personas(models, rng, (100, 200))
    # the popularity head of the first half: personas 0..; of the second half: from 40 on
    first = list(range(90))
    second = first[40:] + first[:40]
    head = set(first[:24])  # loaded at the start: 6 per host
    hosts = [_host(f"studio-{h + 1}", 128.0, 2, [dict(m, loaded=(i in head and i % 4 == h))
                                                    for i, m in enumerate(models)],
                   slots_per_host=4, load_slowdown=0.3)
             for h in range(4)]
    burst_n = min(29, n // 4)
    base = n - burst_n
    duration = 300.0
    times = sorted(_open_arrivals(rng, base, 0.0, duration))
    weights = _zipf(90)
    out = []
    for t in times:
        order = first if t < duration / 2 else second
        rank = rng.choices(range(90), weights)[0]
        out.append((t, order[rank]))
    cold = list(range(64, 90))  # the tail of both halves: loaded nowhere, rarely asked for
    out += [(200.0 + rng.uniform(0.0, 1.0), rng.choice(cold)) for _ in range(burst_n)]
    return Scenario("many", _fixed(rng, out, personas), {"hosts": hosts})


def _fixed(rng: random.Random, arrivals: list[tuple[float, int]],
           personas: list[tuple[str, str, int]]) -> list[Request]:
    """Requests for (time, persona) pairs, in time order; 10% urgent."""
    reqs = []
    for t, p in sorted(arrivals):
        reqs.extend(_requests(rng, [t], [personas[p]], [1.0]))
    return [replace(r, index=i) for i, r in enumerate(reqs)]


def hotspot(rng: random.Random, n: int) -> Scenario:
    models = _models(rng, 20, 8.0, 16.0)
    hosts = [_host(f"studio-{h + 1}", 64.0, 1,
                   [dict(m, loaded=(i % 4 == h and i < 8)) for i, m in enumerate(models)],
                   load_blocks_generation=True)
             for h in range(4)]
    personas = _personas(models, rng, (100, 200))
    weights = [1.0] * 20
    weights[0] = 19.0  # half the traffic to one persona
    times = _open_arrivals(rng, n, 0.0, 300.0)
    return Scenario("hotspot", _requests(rng, times, personas, weights), {"hosts": hosts})


def flash(rng: random.Random, n: int) -> Scenario:
    models = _models(rng, 40, 6.0, 16.0)
    hosts = [_host(f"studio-{h + 1}", 96.0, 4,
                   [dict(m, loaded=(i % 4 == h and i < 16)) for i, m in enumerate(models)],
                   load_slowdown=0.5)
             for h in range(4)]
    personas = _personas(models, rng, (80, 200))
    crowd_n = min(80, n // 4)

    def rate(t: float) -> float:  # a day in 600 s: trough at 4 a.m., peak at 9 p.m.
        hour = t / 25.0
        return 0.35 + 0.65 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4.0) / 24.0)) ** 2

    times: list[float] = []
    while len(times) < n - crowd_n:
        t = rng.uniform(0.0, 600.0)
        if rng.random() < rate(t):
            times.append(t)
    arrivals = [(t, rng.choices(range(40), _zipf(40))[0]) for t in times]
    viral = [0, 30, 35]  # one popular persona, two cold ones
    arrivals += [(300.0 + rng.uniform(0.0, 20.0), rng.choice(viral)) for _ in range(crowd_n)]
    return Scenario("flash", _fixed(rng, arrivals, personas), {"hosts": hosts})


def unequal(rng: random.Random, n: int) -> Scenario:
    models = _models(rng, 30, 4.0, 16.0)
    kinds: list[tuple[float, int, int, dict[str, Any]]] = [
        (128.0, 2, 4, {"tokens_per_s": 50.0, "load_gb_per_s": 4.0}),
        (64.0, 2, 2, {"tokens_per_s": 25.0, "load_gb_per_s": 2.0, "load_slowdown": 0.3}),
        (48.0, 1, 1, {"tokens_per_s": 15.0, "load_gb_per_s": 1.0,
                      "load_blocks_generation": True}),
        (48.0, 1, 1, {"tokens_per_s": 10.0, "load_gb_per_s": 1.0,
                      "load_blocks_generation": True})]
    hosts = [_host(f"studio-{h + 1}", mem, parallel,
                   [dict(m, loaded=(i % 4 == h and i < 12)) for i, m in enumerate(models)],
                   slots_per_host=cap, **extra)
             for h, (mem, parallel, cap, extra) in enumerate(kinds)]
    personas = _personas(models, rng, (80, 200))
    times = _open_arrivals(rng, n, 0.0, 300.0)
    return Scenario("unequal", _requests(rng, times, personas, _zipf(30)), {"hosts": hosts})
