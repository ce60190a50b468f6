"""What the log says about a host's health: "up again" only after it was really down."""

from __future__ import annotations

import logging

import pytest

from botcluster.core.cluster import HostReport, HostView, apply_report


def test_up_again_only_after_a_real_down(caplog: pytest.LogCaptureFixture) -> None:
    host = HostView(name="local-1", slots=2, up=False)  # as the bot starts: not yet seen
    caplog.set_level(logging.INFO, logger="botcluster.core.cluster")
    apply_report(host, HostReport(host="local-1", up=True), now=100.0)
    assert host.up and "up again" not in caplog.text
    apply_report(host, HostReport(host="local-1", up=False, error="ConnectError"), now=101.0)
    assert "host local-1 down: ConnectError" in caplog.text
    apply_report(host, HostReport(host="local-1", up=True), now=102.0)
    assert caplog.text.count("host local-1 up again") == 1


def test_a_host_down_at_start_is_up_again_when_it_answers(
        caplog: pytest.LogCaptureFixture) -> None:
    host = HostView(name="studio", slots=1, up=False)
    caplog.set_level(logging.INFO, logger="botcluster.core.cluster")
    apply_report(host, HostReport(host="studio", up=False, error="refused"), now=100.0)
    apply_report(host, HostReport(host="studio", up=True), now=110.0)
    assert "host studio up again" in caplog.text
