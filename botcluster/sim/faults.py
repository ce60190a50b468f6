"""Injected faults of one simulated host, switchable at start (cluster file) and at run time."""

from __future__ import annotations

import random
from dataclasses import asdict, replace
from typing import Any, Literal

from botcluster.errors import ConfigError
from botcluster.sim.spec import FaultSpec

Fault = Literal["error", "hang", "drop"]
RATES = ("error_rate", "hang_rate", "drop_rate")


class FaultState:
    """The faults in force now. Draws come from the host's seeded generator in arrival order."""

    def __init__(self, spec: FaultSpec, rng: random.Random) -> None:
        self.spec = spec
        self._rng = rng

    def decide(self) -> Fault | None:
        """The fault to inject into the next chat request, if any (one draw per request)."""
        s = self.spec
        if not (s.error_rate or s.hang_rate or s.drop_rate):
            return None
        r = self._rng.random()
        if r < s.error_rate:
            return "error"
        if r < s.error_rate + s.hang_rate:
            return "hang"
        if r < s.error_rate + s.hang_rate + s.drop_rate:
            return "drop"
        return None

    def update(self, changes: dict[str, Any]) -> None:
        """Apply rate changes from POST /sim/faults; ConfigError on bad keys or values."""
        unknown = sorted(set(changes) - set(RATES))
        if unknown:
            raise ConfigError("/sim/faults", unknown[0], "unknown fault")
        for key, value in changes.items():
            if not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
                raise ConfigError("/sim/faults", key, "must be a number between 0 and 1")
        self.spec = replace(self.spec, **{k: float(v) for k, v in changes.items()})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self.spec)
