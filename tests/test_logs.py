"""Both log formats, extras, idempotent setup, and redaction of registered secrets."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from botcluster.logs import clear_secrets, register_secret, setup_logging
from tests.support.logstate import logging_restored

LOGGER = "botcluster.core.supervisor"
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO botcluster\.core\.supervisor ")


@pytest.fixture(autouse=True)
def clean_logging() -> Iterator[None]:
    with logging_restored():
        yield
    clear_secrets()


def capture(fmt: str, level: str = "INFO") -> io.StringIO:
    stream = io.StringIO()
    setup_logging(level, fmt, stream)  # type: ignore[arg-type]
    return stream


def test_text_format() -> None:
    stream = capture("text")
    logging.getLogger(LOGGER).info(
        "worker %d started", 3, extra={"host": "studio-1", "note": "two words", "n": 2}
    )
    line = stream.getvalue()
    assert TEXT_LINE.match(line), line
    assert line.rstrip("\n").endswith('worker 3 started host=studio-1 note="two words" n=2')
    assert line.count("\n") == 1


def test_json_format() -> None:
    stream = capture("json")
    logging.getLogger(LOGGER).warning("host %s down", "studio-2", extra={"attempt": 2})
    record = json.loads(stream.getvalue())
    assert record["level"] == "WARNING" and record["logger"] == LOGGER
    assert record["msg"] == "host studio-2 down" and record["attempt"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])


def test_json_one_object_per_line_with_traceback() -> None:
    stream = capture("json")
    log = logging.getLogger(LOGGER)
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        log.exception("failed")
    log.info("after")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert "RuntimeError: boom" in first["exc"]
    assert json.loads(lines[1])["msg"] == "after"


def test_level_and_idempotent_setup() -> None:
    capture("text", "WARNING")
    stream = capture("text", "warning")  # replaces the first handler
    log = logging.getLogger(LOGGER)
    log.info("hidden")
    log.error("shown")
    assert stream.getvalue().count("\n") == 1 and "shown" in stream.getvalue()
    assert logging.getLogger("httpx").level == logging.WARNING
    with pytest.raises(ValueError):
        setup_logging("LOUD", "text", io.StringIO())


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_redacted_everywhere(fmt: str) -> None:
    token = "sk-lm-abc123XYZ"
    register_secret(token)
    register_secret("")  # ignored
    stream = capture(fmt)
    log = logging.getLogger(LOGGER)
    log.info(
        "auth header Bearer %s", token, extra={"headers": {"Authorization": f"Bearer {token}"}}
    )
    log.info(f"inline {token}", extra={"url": f"http://h/?key={token}", "tokens": [token]})
    try:
        raise ValueError(f"rejected {token}")
    except ValueError:
        log.exception("call failed")
    out = stream.getvalue()
    assert token not in out
    assert out.count("***") >= 6


def test_register_secret_after_setup_applies() -> None:
    stream = capture("text")
    register_secret("late-secret-value")
    logging.getLogger(LOGGER).info("value=%s", "late-secret-value")
    assert "late-secret-value" not in stream.getvalue()
    assert "value=***" in stream.getvalue()
