"""The dispatcher's view of the LLM hosts: health, slots, loaded models, loads, memory.

Pure bookkeeping with no I/O: the supervisor feeds it host reports (`HostReport`), the dispatcher
reserves and releases slots on it, and `evictions` answers "what must go for this model to
fit?" (the choices themselves are core/scheduler.py's).

Capacity is modelled as the hosts have it (ARCHITECTURE.md "Scheduling"): each loaded instance has
its own prediction slots (LM Studio 0.4 `config.parallel`, llama.cpp `--parallel`,
`OLLAMA_NUM_PARALLEL`), under a host-wide limit on concurrent predictions (`slots`, from config:
1 is a serialized host), a memory budget, and one load at a time per host. A load occupies a
generation slot only on a host that cannot load while it generates (`load_lane` false).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from botcluster.core.speeds import Speeds

log = logging.getLogger(__name__)

MAX_HOST_BACKOFF_S = 60.0


@dataclass(frozen=True)
class HostReport:
    """What a host adapter read from a host. `loaded` maps model -> loaded context length."""

    host: str
    up: bool
    # The host-wide limit where the host itself states one (a llama.cpp server's total_slots
    # for its one model); None: keep the configured value. Never one instance's `parallel`.
    slots: int | None = None
    loaded: dict[str, int] = field(default_factory=dict)
    sizes_gb: dict[str, float] = field(default_factory=dict)  # catalogue sizes where known
    serves_any: bool = False  # JIT host: any model it lists can be requested
    error: str = ""
    parallel: dict[str, int] = field(default_factory=dict)  # model -> its instance's slots
    loads_in_chat: bool = False  # no REST load: a chat request loads the model (JIT)


@dataclass
class HostView:
    name: str
    slots: int  # host-wide limit on concurrent predictions
    memory_gb: float | None = None
    serves: frozenset[str] = frozenset()  # empty: whatever it reports
    up: bool = True
    inflight: int = 0
    loaded: dict[str, int] = field(default_factory=dict)  # model -> context length (0 unknown)
    loading: set[str] = field(default_factory=set)
    sizes_gb: dict[str, float] = field(default_factory=dict)
    last_used: dict[str, float] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)  # model -> leases running on it
    down_until: float = 0.0  # circuit breaker: no traffic before this (half-open after)
    failures: int = 0
    static_loaded: bool = False  # a host that serves fixed models and cannot load (llama.cpp)
    oom: bool = False  # the host refused a load for memory: the next load here must evict
    evicting: set[str] = field(default_factory=set)  # unloads granted, not yet done
    parallel: dict[str, int] = field(default_factory=dict)  # model -> instance slots, reported
    default_parallel: int | None = None  # instance slots where the host does not say: `slots`
    load_lane: bool = False  # a load runs beside generation instead of in a generation slot
    jit_loads: bool = False  # the host loads inside a chat request (in that request's slot)
    pinned: frozenset[str] = frozenset()  # never evicted
    loading_since: dict[str, float] = field(default_factory=dict)  # model -> load granted at
    speeds: Speeds = field(default_factory=Speeds)

    @property
    def free(self) -> int:
        """Generation slots free on the whole host."""
        return self.slots - self.inflight

    def model_slots(self, model: str) -> int:
        """Concurrent predictions `model` can run here: its instance's slots, under the cap."""
        return min(self.slots, self.parallel.get(model) or self.default_parallel or self.slots)

    def free_for(self, model: str) -> int:
        """Generation slots free for `model`: on its instance and on the host."""
        return min(self.free, self.model_slots(model) - self.running.get(model, 0))

    def load_needs_slot(self) -> bool:
        return self.jit_loads or not self.load_lane

    def can_serve(self, model: str) -> bool:
        return not self.serves or model in self.serves

    def usable(self, now: float) -> bool:
        """Up, or down but past its backoff with nothing in flight (one half-open probe)."""
        return self.up or (now >= self.down_until and self.inflight == 0)

    def memory_used(self) -> float:
        return sum(self.sizes_gb.get(m, 0.0) for m in set(self.loaded) | self.loading)


@dataclass(frozen=True)
class Placement:
    host: str
    load: bool
    evict: tuple[str, ...] = ()


def evictions(h: HostView, model: str, busy: set[str]) -> tuple[str, ...] | None:
    """Models to unload from `h` so that `model` fits, LRU first; None if it cannot fit."""
    idle = [m for m in h.loaded
            if h.running.get(m, 0) == 0 and m not in busy and m not in h.pinned]
    idle.sort(key=lambda m: h.last_used.get(m, 0.0))
    if h.oom:
        # The host said no: our memory figures were wrong. Free one idle model and retry;
        # with nothing loaded at all, try once more (a second refusal counts as a failure).
        if idle:
            return tuple(idle[:1])
        return () if not h.loaded else None
    need = h.sizes_gb.get(model, 0.0)
    if h.memory_gb is None or need > h.memory_gb:
        # No budget known, or it could never fit: the host decides, and refuses visibly.
        return ()
    free = h.memory_gb - h.memory_used()
    if need <= free:
        return ()
    out: list[str] = []
    for m in idle:
        out.append(m)
        free += h.sizes_gb.get(m, 0.0)
        if need <= free:
            return tuple(out)
    return None


# --- health and reports ---------------------------------------------------------------------


def apply_report(host: HostView, report: HostReport, now: float) -> None:
    """Merge a host's own account of itself into the view."""
    if not report.up:
        mark_down(host, report.error, now)
        return
    mark_up(host)
    host.oom = False  # a fresh account of the host: our memory view starts again from it
    if report.slots:
        host.slots = report.slots
    host.parallel = {m: n for m, n in report.parallel.items() if n > 0}
    host.jit_loads = report.loads_in_chat
    host.sizes_gb.update(report.sizes_gb)
    # A report read while we unload or load may be older than those changes: never let it
    # bring back a model being evicted, nor declare loaded one whose load we still await.
    host.loaded = {m: c for m, c in report.loaded.items()
                   if m not in host.evicting and m not in host.loading}


def mark_down(host: HostView, error: str, now: float) -> None:
    """Circuit breaker: no traffic until `down_until`, then one probe (half-open)."""
    host.failures += 1
    host.down_until = now + min(MAX_HOST_BACKOFF_S, 2.0 ** min(host.failures, 6))
    if host.up:
        log.warning("host %s down: %s", host.name, error)
    host.up = False


def mark_up(host: HostView) -> None:
    if not host.up and host.failures:  # at start a host is not up yet, but was never down
        log.info("host %s up again", host.name)
    host.up, host.failures, host.down_until = True, 0, 0.0


def host_summary(h: HostView, now: float) -> dict[str, object]:
    return {"up": h.up, "usable": h.usable(now), "slots": h.slots, "inflight": h.inflight,
            "loaded": dict(h.loaded), "loading": sorted(h.loading),
            "model_slots": {m: h.model_slots(m) for m in h.loaded},
            "running": {m: n for m, n in h.running.items() if n},
            "loading_since": dict(h.loading_since), "pinned": sorted(h.pinned),
            "memory_gb": h.memory_gb, "memory_used_gb": h.memory_used()}
