"""Counters one simulated host keeps about what really happened on it (GET /sim/stats)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HostStats:
    """Mutable counters; times are simulated seconds. Owned by one SimHost, one event loop."""

    loads: int = 0  # completed loads
    load_failures: int = 0  # out of memory, unknown model, aborted
    aborted_loads: int = 0  # of which lost to the concurrent-loads hazard
    load_seconds: float = 0.0
    evictions: int = 0  # unloads made by auto-evict
    evicted_running: int = 0  # of which cut a running generation
    unloads: int = 0  # explicit unloads (API)
    ttl_unloads: int = 0  # idle timer expiries
    duplicate_instances: int = 0  # key:2 and beyond
    predictions: int = 0  # slot grants
    active: int = 0  # predictions running now
    peak_active: int = 0
    queued: int = 0  # requests waiting for a slot now
    peak_queued: int = 0
    busy_slot_seconds: float = 0.0
    wait_seconds: float = 0.0  # total time requests waited for a slot
    tokens_generated: int = 0
    downs: int = 0
    requests: Counter[str] = field(default_factory=Counter)  # by outcome
    model_loads: Counter[str] = field(default_factory=Counter)  # by model key

    def start_prediction(self) -> None:
        self.predictions += 1
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)

    def end_prediction(self, busy_s: float) -> None:
        self.active -= 1
        self.busy_slot_seconds += busy_s

    def enqueue(self) -> None:
        self.queued += 1
        self.peak_queued = max(self.peak_queued, self.queued)

    def outcome(self, name: str) -> None:
        self.requests[name] += 1

    def reset(self) -> None:
        """Zero every counter; the live gauges (active, queued) keep their values."""
        fresh = HostStats(active=self.active, queued=self.queued)
        self.__dict__.update(fresh.__dict__)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if not isinstance(v, Counter)}
        out["requests"] = dict(self.requests)
        out["model_loads"] = dict(self.model_loads)
        return out
