"""The site's priorities as weights: how much one waiting job counts against another.

A job's `rank` (core/jobs.py) is its priority plus a point of ageing every `AGEING_S` seconds.
The scheduler trades priority against time through `weight`: a job `PRIORITY_DOUBLING` rank
points ahead weighs twice as much. The 0-100 scale then spans ten doublings: priority 100
against 50 weighs 32 to 1, 60 against 50 about 2 to 1, and 100 s of waiting (10 points at
AGEING_S = 10) doubles a job's weight against a new one of equal priority.
"""

from __future__ import annotations

PRIORITY_DOUBLING = 10.0
_MAX_EXPONENT = 60.0  # ratios beyond 2**60 decide the same way; keeps floats finite


def weight(rank: float, than: float) -> float:
    """How much a job of `rank` weighs against one of rank `than`."""
    exponent = (rank - than) / PRIORITY_DOUBLING
    return 2.0 ** max(-_MAX_EXPONENT, min(_MAX_EXPONENT, exponent))
