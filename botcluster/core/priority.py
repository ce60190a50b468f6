"""The site's priorities as weights: how much one waiting job counts against another.

A job's `rank` (core/jobs.py) is its priority plus a point of ageing every `AGEING_S` seconds.
The scheduler trades priority against time with one exchange rate: a job `PRIORITY_DOUBLING`
rank points ahead weighs twice as much. The 0-100 scale then spans ten doublings: priority 100
against 50 weighs 32 to 1, 60 against 50 about 2 to 1, and 100 s of waiting (10 points at
AGEING_S = 10) doubles a job's weight against a new one of equal priority.
"""

from __future__ import annotations

import math

PRIORITY_DOUBLING = 10.0


def bar(than: float, time_ratio: float) -> float:
    """The rank a job must exceed to outweigh one of rank `than` at `time_ratio` times its
    host time: weight 2 ** (difference / PRIORITY_DOUBLING) against time_ratio."""
    return than + PRIORITY_DOUBLING * math.log2(time_ratio)
