"""A job's rank is a finite float whatever its priority says (a journal line written by an older
version, a server that sends 10**400): the dispatcher must never overflow on it."""

from __future__ import annotations

import math

import pytest

from tests.core.helpers import Clock, dispatcher, host, job


@pytest.mark.parametrize("priority", [10**400, -10**400, float("inf"), float("-inf"),
                                      float("nan"), 1.8e308])
def test_rank_is_finite_for_any_priority(priority: float) -> None:
    assert math.isfinite(job("j", priority=priority).rank)  # type: ignore[arg-type]


def test_a_huge_priority_is_queued_and_claimed_first() -> None:
    clock = Clock()
    d = dispatcher([host("h", slots=2, loaded=("m1",))], clock=clock)
    d.offer([job("normal", at=clock.now - 5), job("huge", priority=10**400, at=clock.now),
             job("nan", priority=float("nan"), at=clock.now)])  # type: ignore[arg-type]
    first = d.claim("w")
    assert first is not None and first.job.message_id == "huge"
