"""What a peer router knows about the hosts: resident models, requests in flight, memory.

Pure state, no I/O: the drivers (peers.py) update it from what they send and from the hosts'
`/api/v0/models`; the policies (policies.py) read it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from botcluster.sim.spec import ClusterSpec, HostSpec


@dataclass
class HostView:
    """One host as a router sees it."""

    name: str
    memory_gb: float
    slots_per_model: int  # one instance's concurrent predictions
    slots_per_host: int  # concurrent predictions on the host
    sizes: dict[str, float]  # the host's catalogue: model -> GB
    resident: set[str] = field(default_factory=set)  # loaded (or being loaded) models
    busy: Counter[str] = field(default_factory=Counter)  # requests in flight per model

    @classmethod
    def of(cls, spec: HostSpec) -> HostView:
        """The host as it starts: the models its cluster file marks `loaded` are resident."""
        return cls(name=spec.name, memory_gb=spec.memory_gb,
                   slots_per_model=spec.slots_per_model, slots_per_host=spec.slots_per_host,
                   sizes={m.key: m.size_gb for m in spec.models},
                   resident={m.key for m in spec.models if m.loaded})

    @property
    def in_flight(self) -> int:
        return sum(self.busy.values())

    @property
    def free_slots(self) -> int:
        return self.slots_per_host - self.in_flight

    @property
    def free_gb(self) -> float:
        return self.memory_gb - sum(self.sizes.get(m, 0.0) for m in self.resident)

    def has(self, model: str) -> bool:
        return model in self.sizes

    def warm(self, model: str) -> bool:
        """Resident with a free slot on its instance."""
        return model in self.resident and self.busy[model] < self.slots_per_model

    def sent(self, model: str) -> None:
        """A request for `model` was sent here (the host JIT-loads it if needed)."""
        self.busy[model] += 1
        self.resident.add(model)

    def finished(self, model: str) -> None:
        self.busy[model] -= 1
        if self.busy[model] <= 0:
            del self.busy[model]

    def observed(self, loaded: set[str]) -> None:
        """The host's own list of loaded models; models in flight stay resident (loading)."""
        self.resident = set(loaded) | set(self.busy)


def views(cluster: ClusterSpec) -> dict[str, HostView]:
    return {h.name: HostView.of(h) for h in cluster.hosts}
