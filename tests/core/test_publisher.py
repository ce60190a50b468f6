"""The metrics publisher's start: every label set an alert uses exists from the first scrape
(a counter whose series appears first at 1 never shows an increase() to an alert)."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client import REGISTRY

from botcluster import metrics
from botcluster.comments import validate
from botcluster.core.poller import poll_error_reason
from botcluster.core.publisher import MetricsPublisher
from botcluster.errors import CommentsError, CommentsRejected, CommentsUnavailable


def test_every_poll_error_reason_exists_before_any_poll_failed() -> None:
    """Each reason `poll_error_reason` can give: every skip reason of an unreadable body, and
    the kinds of failure. Read straight from the registry after the publisher starts."""
    MetricsPublisher(SimpleNamespace(entities={}, hosts=()))  # type: ignore[arg-type]
    given = {poll_error_reason(validate.Invalid(r, "x")) for r in metrics.SKIP_REASONS}
    failures = (CommentsUnavailable("503"), CommentsRejected(401, "bad token"), CommentsError())
    given |= {poll_error_reason(e) for e in failures}
    assert given <= set(metrics.POLL_ERROR_REASONS)
    for reason in metrics.POLL_ERROR_REASONS:
        value = REGISTRY.get_sample_value("botcluster_poll_errors_total", {"reason": reason})
        assert value is not None, f"no poll_errors series for {reason!r} at the first scrape"
