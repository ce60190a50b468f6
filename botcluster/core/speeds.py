"""What one host has been measured to do: load speed and time per generation, as moving averages.

Seeded from the host's config (`load_gb_per_s`, `tokens_per_s`, `ttft_s`) until the first
measurement, which replaces the seed; then fed by what the dispatcher observes: a load from its
grant to `load_finished`, a generation from the moment it held a slot to `generation_done`. The
scheduler estimates completion times from these figures.
"""

from __future__ import annotations

from dataclasses import dataclass

# Weight of a new observation: about the last ten observations count.
ALPHA = 0.2
# Completion tokens a reply takes before anything is measured (an entity's default maxTokens).
TYPICAL_TOKENS = 200
# Size assumed for a model whose size the host never reported (a 7-8B model at 4 bits).
DEFAULT_SIZE_GB = 4.0


@dataclass
class Speeds:
    load_gb_per_s: float = 2.0
    generation_s: float = 0.5 + TYPICAL_TOKENS / 30.0  # seconds one job holds a slot
    loads_seen: int = 0
    generations_seen: int = 0

    @classmethod
    def seeded(cls, load_gb_per_s: float, tokens_per_s: float, ttft_s: float) -> Speeds:
        return cls(load_gb_per_s=load_gb_per_s,
                   generation_s=ttft_s + TYPICAL_TOKENS / tokens_per_s)

    def load_s(self, size_gb: float | None) -> float:
        """Expected seconds to load a model of `size_gb` (None: unknown size)."""
        return (size_gb or DEFAULT_SIZE_GB) / self.load_gb_per_s

    def observe_load(self, seconds: float, size_gb: float | None) -> None:
        if seconds <= 0:
            return
        rate = (size_gb or DEFAULT_SIZE_GB) / seconds
        self.load_gb_per_s = _ema(self.load_gb_per_s, rate, self.loads_seen)
        self.loads_seen += 1

    def observe_generation(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.generation_s = _ema(self.generation_s, seconds, self.generations_seen)
        self.generations_seen += 1


def _ema(old: float, new: float, seen: int) -> float:
    """The first measurement replaces the seed (a guess from config); later ones blend in."""
    return new if seen == 0 else old + ALPHA * (new - old)
