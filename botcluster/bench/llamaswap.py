"""llama-swap's scheduling policy on one host, as a pure state machine (no I/O).

Faithful to llama-swap's FIFO scheduler with its `matrix` swapper:

- a request for a model that is running, when no eviction is needed and no swap in flight
  evicts it, is served at once (the loaded model first, even ahead of queued requests);
- a request for a model whose swap is in flight joins that swap;
- a request whose swap would stop the target of a swap in flight, or whose evictions overlap
  one's, waits in the queue; so does one that would evict a model still serving requests
  (a busy model is never evicted);
- otherwise its swap starts (several may run when their evictions do not overlap);
- the queue is walked in arrival order whenever a swap ends or a model's last request ends;
- at most `limit` requests per model are admitted (llama-swap's `concurrencyLimit`, default
  10); beyond it the request is refused (HTTP 429 there) and the client tries again later;
- the eviction is the matrix's: among the sets of models that may run with the target, the one
  whose running models outside it have the lowest total `evict_costs`. Here a set may run when
  it fits the host's memory, and a model's cost is its load time in whole seconds (at least
  1), as an operator would set `evict_costs` for models that are slow to start.

Across hosts, llama-swap forwards a model to the one peer that lists it (`home_hosts`).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from botcluster.sim.spec import ClusterSpec

DEFAULT_CONCURRENCY_LIMIT = 10  # llama-swap's default `concurrencyLimit`


@dataclass(frozen=True)
class Serve:
    request: int
    model: str


@dataclass(frozen=True)
class Swap:
    model: str
    evict: tuple[str, ...]


@dataclass(frozen=True)
class Refuse:
    request: int
    model: str


Action = Serve | Swap | Refuse


def evict_for(target: str, running: Sequence[str], sizes: Mapping[str, float],
              memory_gb: float, costs: Mapping[str, int]) -> tuple[str, ...]:
    """The cheapest set of running models to stop so that `target` fits (llama-swap's matrix
    solver over the sets that fit in memory). Ties: fewer models, then the earlier started.
    When `target` alone does not fit, everything is evicted (as for a model in no set)."""
    if target in running:
        return ()
    best: tuple[tuple[int, int, tuple[int, ...]], tuple[str, ...]] | None = None
    for n in range(len(running) + 1):
        for evict in itertools.combinations(range(len(running)), n):
            kept = [m for i, m in enumerate(running) if i not in evict]
            if sum(sizes[m] for m in kept) + sizes[target] > memory_gb + 1e-9:
                continue
            key = (sum(costs.get(running[i], 1) for i in evict), n, evict)
            if best is None or key < best[0]:
                best = (key, tuple(running[i] for i in evict))
    return tuple(running) if best is None else best[1]


@dataclass
class SwapHost:
    """One llama-swap in front of one host. Feed it events; it returns what to do."""

    memory_gb: float
    sizes: dict[str, float]
    costs: dict[str, int]
    running: list[str] = field(default_factory=list)  # in the order they were started
    limit: int = DEFAULT_CONCURRENCY_LIMIT
    in_flight: Counter[str] = field(default_factory=Counter)
    reserved: Counter[str] = field(default_factory=Counter)
    active: dict[str, tuple[str, ...]] = field(default_factory=dict)  # swap target -> evict
    waiters: dict[str, list[int]] = field(default_factory=dict)  # swap target -> requests
    queued: list[tuple[int, str]] = field(default_factory=list)

    def on_request(self, request: int, model: str) -> list[Action]:
        if self.reserved[model] >= self.limit:
            return [Refuse(request, model)]
        self.reserved[model] += 1
        actions = self._decide(request, model)
        if actions is None:
            self.queued.append((request, model))
            return []
        return actions

    def on_swap_done(self, model: str, ok: bool) -> list[Action]:
        """The swap to `model` ended; when its load failed (`ok` False) its waiters are still
        handed to the host, where they fail, as llama-swap hands them the error."""
        self.active.pop(model, None)
        if ok and model not in self.running:
            self.running.append(model)
        out: list[Action] = [Serve(r, model) for r in self.waiters.pop(model, [])]
        self.in_flight[model] += len(out)
        return out + self._drain()

    def on_serve_done(self, model: str) -> list[Action]:
        self.in_flight[model] -= 1
        self.reserved[model] -= 1
        if self.in_flight[model] <= 0:
            del self.in_flight[model]
            return self._drain()
        return []

    def _decide(self, request: int, model: str) -> list[Action] | None:
        """llama-swap's decision tree; None when the request must wait in the queue."""
        if model in self.active:
            self.waiters[model].append(request)
            return []
        evict = evict_for(model, self._running_set(model), self.sizes, self.memory_gb,
                          self.costs)
        collides = self._collides(model, evict)
        if model in self.running and not evict and not collides:
            self.in_flight[model] += 1
            return [Serve(request, model)]
        if collides or any(self.in_flight[m] > 0 for m in evict):
            return None
        self.active[model] = evict
        self.waiters[model] = [request]
        self.running = [m for m in self.running if m not in evict]
        return [Swap(model, evict)]

    def _drain(self) -> list[Action]:
        """Walk the queue in arrival order; what is still blocked keeps its place."""
        out: list[Action] = []
        pending, self.queued = self.queued, []
        for request, model in pending:
            actions = self._decide(request, model)
            if actions is None:
                self.queued.append((request, model))
            else:
                out += actions
        return out

    def _running_set(self, exclude: str) -> list[str]:
        """Running models plus the targets of other swaps in flight (llama-swap's runningSet)."""
        return self.running + [m for m in self.active if m != exclude and m not in self.running]

    def _collides(self, target: str, evict: Sequence[str]) -> bool:
        for other, other_evict in self.active.items():
            if other == target:
                continue
            if other in evict or target in other_evict or set(evict) & set(other_evict):
                return True
        return False


def home_hosts(cluster: ClusterSpec) -> dict[str, str]:
    """The one host each model is forwarded to (llama-swap's `peers` list a model once): the
    first host that has it loaded at the start, else the host with the fewest models so far
    (cluster order on ties)."""
    homes: dict[str, str] = {}
    count: Counter[str] = Counter()
    keys = list(dict.fromkeys(m.key for h in cluster.hosts for m in h.models))
    for key in keys:
        loaded = [h.name for h in cluster.hosts if (m := h.model(key)) is not None and m.loaded]
        if loaded:
            homes[key] = loaded[0]
            count[loaded[0]] += 1
    for key in keys:
        if key in homes:
            continue
        able = [h.name for h in cluster.hosts if h.model(key) is not None]
        homes[key] = min(able, key=lambda n: (count[n], able.index(n)))
        count[homes[key]] += 1
    return homes


def swap_host(cluster: ClusterSpec, name: str) -> SwapHost:
    """The llama-swap of host `name`, with its models loaded at the start running."""
    spec = next(h for h in cluster.hosts if h.name == name)
    return SwapHost(memory_gb=spec.memory_gb, sizes={m.key: m.size_gb for m in spec.models},
                    costs={m.key: max(1, math.ceil(m.size_gb / spec.load_gb_per_s))
                           for m in spec.models},
                    running=[m.key for m in spec.models if m.loaded])
