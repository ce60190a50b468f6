"""`botcluster stress`: the users' burst test, replayed against any comments API.

N human messages are posted as N independent browser tabs would post them (each tab heals its
own message until it is visible, as the site's frontend does); the run then waits for every
reply and reports what was answered exactly once, missing or duplicated, how long replies took
to become visible, and what the run really exercised (bursts of replies, concurrent predictions
per simulated host, overlapping cache writes on the board).
"""

from botcluster.stress.report import (
    Exercised,
    Latency,
    SentMessage,
    Sighting,
    StressReport,
    account,
    peak_within,
    percentile,
    render,
)
from botcluster.stress.run import StressSettings, run_stress
from botcluster.stress.tab import TabTiming

__all__ = [
    "Exercised",
    "Latency",
    "SentMessage",
    "Sighting",
    "StressReport",
    "StressSettings",
    "TabTiming",
    "account",
    "peak_within",
    "percentile",
    "render",
    "run_stress",
]
