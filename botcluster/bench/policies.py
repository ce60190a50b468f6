"""The routing decisions of two peers, as pure functions of a HostView snapshot.

- `site_pick`: the site's own router (the rule of its old bot, at the bench's concurrency): the
  first host that has the model loaded (model affinity), else the host with the most free
  memory, which loads it just in time.
- `warm_first_pick`: a central queue served warm first, with priority ageing. When a host has a
  free prediction slot it takes the pending message with the highest score, where the score is
  the site's priority, plus a point per AGEING_S seconds of waiting, plus WARM_BONUS where the
  message's model is resident on that host with a free instance slot. So a message that needs a
  load waits behind hits for at most WARM_BONUS * AGEING_S seconds (less when more urgent), and
  nothing starves. A cold message goes to the free host with the most free memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from botcluster.bench.view import HostView

AGEING_S = 10.0  # a point of priority per 10 s of waiting, as the site's queue ages
WARM_BONUS = 20.0  # points a hit is worth over a load: 200 s of ageing


@dataclass(frozen=True)
class Pending:
    """A message waiting in a central queue."""

    index: int
    model: str
    priority: int
    t: float  # arrival, simulated seconds


def site_pick(hosts: Sequence[HostView], model: str) -> HostView:
    """Model affinity (the first host, in cluster order, with `model` loaded), then the most
    free memory (ties: cluster order). ValueError when no host has the model."""
    able = [h for h in hosts if h.has(model)]
    if not able:
        raise ValueError(f"no host has model {model!r}")
    for h in able:
        if model in h.resident:
            return h
    return max(able, key=lambda h: (h.free_gb, -able.index(h)))


def score(job: Pending, host: HostView, now: float) -> float:
    """Priority (0 counts as 50) plus ageing, plus WARM_BONUS where the job is warm on host."""
    aged = (job.priority or 50) + max(0.0, now - job.t) / AGEING_S
    return aged + (WARM_BONUS if host.warm(job.model) else 0.0)


def warm_first_pick(hosts: Mapping[str, HostView], pending: Sequence[Pending],
                    now: float) -> tuple[Pending, HostView] | None:
    """The next (message, host) to dispatch, or None when no host with a free slot can take
    any pending message. Ties go to the older message, then to the host with more free memory."""
    free = [h for h in hosts.values() if h.free_slots > 0]
    best: tuple[tuple[float, float, float], Pending, HostView] | None = None
    for job in pending:
        for h in free:
            if not h.has(job.model):
                continue
            key = (score(job, h, now), -job.t, h.free_gb)
            if best is None or key > best[0]:
                best = (key, job, h)
    return None if best is None else (best[1], best[2])
