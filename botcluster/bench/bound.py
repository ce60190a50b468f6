"""A lower bound on the makespan of a workload on a simulated cluster, in simulated seconds.

Notation: host h has S_h prediction slots (`slots_per_host`), time to first token f_h, tokens
per second v_h and load rate r_h (GB/s); model m has size g_m. A reply to a request with
`max_tokens` n has a length drawn uniformly from [n//2, n] by the simulator, so its expected
length is k = (n//2 + n) / 2 (with `strict`, the minimum n//2 is used instead).

    s_j   = min over hosts h serving j's model of  f_h + k_j / v_h     (j's own service time)
    l_m   = min over hosts h serving m of  g_m / r_h                    (one load of m)
    U     = the requested models that no host has loaded at the start (each needs a load)
    c_m   = min over hosts h serving m of  (S_h * g_m / r_h if h is exclusive for m, else 0)

A host is *exclusive* for m when its memory cannot hold m together with any other model of its
catalogue (while m loads there, no other model is resident), or when it has
`load_blocks_generation` (nothing generates while it loads): either way none of its S_h slots can
generate during the load. On other hosts a load may overlap generation and costs no slot time;
`load_slowdown` adds nothing either, since a host that is not generating loses nothing to it.

    LB = max( (sum_j s_j + sum_{m in U} c_m) / sum_h S_h,          (work over capacity)
              max_i ( t_i + sum_{j : t_j >= t_i} s_j / sum_h S_h ), (work still to arrive)
              max_j ( [m_j in U] * l_{m_j} + s_j ),                 (the longest single job)
              max_j ( t_j + s_j ) )                                  (the last arrival)

Why each is a bound: every request occupies one slot for at least s_j, every slot-second lies in
[0, makespan], and an exclusive load idles all S_h slots for g_m / r_h, so the total slot time
cannot exceed capacity times makespan; work that arrives at t_i or later cannot start before
t_i; no request for a model in U can finish before one load of it and its own service; no
request finishes before its arrival plus its service. With expected lengths the work terms bound
the *expected* makespan (a sum of expectations); one run may fall below by the noise of the
reply lengths, about 1% for a few hundred requests. `strict=True` gives a bound for every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from botcluster.bench.workload import Request
from botcluster.sim.spec import ClusterSpec, HostSpec


@dataclass(frozen=True)
class Bound:
    """The bound and its terms (simulated seconds)."""

    lower_bound_s: float
    work_s: float
    arrivals_s: float
    longest_job_s: float
    last_arrival_s: float
    unavoidable_loads: int


def reply_tokens(max_tokens: int, strict: bool = False) -> float:
    """Expected (or, strict, minimum) reply length for `max_tokens`, as the simulator draws it."""
    low = max(1, max_tokens // 2)
    return float(low) if strict else (low + max_tokens) / 2.0


def service_s(r: Request, hosts: Sequence[HostSpec], strict: bool = False) -> float:
    """The fastest generation of `r` on any host that has its model."""
    k = reply_tokens(r.max_tokens, strict)
    times = [h.ttft_s + k / h.tokens_per_s for h in hosts if h.model(r.model) is not None]
    if not times:
        raise ValueError(f"no host of the cluster has model {r.model!r}")
    return min(times)


def preloaded(cluster: ClusterSpec) -> set[str]:
    """Models loaded somewhere when the cluster starts (llama-server serves its first)."""
    out: set[str] = set()
    for h in cluster.hosts:
        for i, m in enumerate(h.models):
            if m.loaded or (i == 0 and h.flavour == "llamacpp"):
                out.add(m.key)
    return out


def exclusive(h: HostSpec, model: str) -> bool:
    """True when nothing can generate on `h` while it loads `model`: it blocks generation
    during loads, or it cannot hold `model` and any other model of its catalogue at once."""
    spec = h.model(model)
    if spec is not None and h.load_blocks_generation:
        return True
    others = [m.size_gb for m in h.models if m.key != model]
    return spec is not None and bool(others) and spec.size_gb + min(others) > h.memory_gb


def load_s(model: str, hosts: Sequence[HostSpec]) -> float:
    return min(m.size_gb / h.load_gb_per_s for h in hosts if (m := h.model(model)) is not None)


def load_slot_cost(model: str, hosts: Sequence[HostSpec]) -> float:
    costs = [(h.slots_per_host * m.size_gb / h.load_gb_per_s if exclusive(h, model) else 0.0)
             for h in hosts if (m := h.model(model)) is not None]
    return min(costs)


def lower_bound(requests: Sequence[Request], cluster: ClusterSpec,
                strict: bool = False) -> Bound:
    """The bound above for `requests` on `cluster`."""
    if not requests:
        return Bound(0.0, 0.0, 0.0, 0.0, 0.0, 0)
    hosts = cluster.hosts
    capacity = float(sum(h.slots_per_host for h in hosts))
    service = [service_s(r, hosts, strict) for r in requests]
    unavoidable = {r.model for r in requests} - preloaded(cluster)
    work = (sum(service) + sum(load_slot_cost(m, hosts) for m in unavoidable)) / capacity
    order = sorted(range(len(requests)), key=lambda i: requests[i].t)
    arrivals, suffix = 0.0, 0.0
    for i in reversed(order):  # suffix = work of requests arriving at or after t_i
        suffix += service[i]
        arrivals = max(arrivals, requests[i].t + suffix / capacity)
    longest = max((load_s(r.model, hosts) if r.model in unavoidable else 0.0) + s
                  for r, s in zip(requests, service, strict=True))
    last = max(r.t + s for r, s in zip(requests, service, strict=True))
    return Bound(lower_bound_s=max(work, arrivals, longest, last), work_s=work,
                 arrivals_s=arrivals, longest_job_s=longest, last_arrival_s=last,
                 unavoidable_loads=len(unavoidable))
