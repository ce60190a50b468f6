"""Logging for every botcluster process: one line per record, text or JSON, secrets redacted.

Text:  `2026-11-21T14:00:00Z INFO botcluster.core.supervisor message key=value key2="two words"`
JSON:  `{"ts": "2026-11-21T14:00:00.123Z", "level": "INFO", "logger": "...", "msg": "...",
        "key": "value"}` (one object per line; `exc` holds a traceback when there is one).

`key=value` pairs are the `extra=` fields of the call. Timestamps are UTC; text has seconds, JSON
milliseconds. Values registered with `register_secret` are replaced by `***` in messages, extras
and tracebacks before any handler formats them, so a token can only reach a log by being logged
under a name nobody registered.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any, Literal, TextIO

REDACTED = "***"
MIN_SECRET_CHARS = 4  # shorter values cannot be told apart from ordinary text
# Libraries that log every HTTP request at INFO; the bot polls every few seconds.
NOISY_LOGGERS = ("httpx", "httpcore", "httpx2", "httpcore2", "openai", "uvicorn.access")

_secrets: set[str] = set()
# "color_message": uvicorn's copy of its message with terminal colour codes, for its own
# formatter; ours print the plain message, so it is not an extra.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "taskName", "color_message"}
)


def register_secret(value: str | None) -> None:
    """Redact `value` from every log record from now on (in this process)."""
    if value and len(value) >= MIN_SECRET_CHARS:
        _secrets.add(value)


def registered_secrets() -> tuple[str, ...]:
    """Every value registered in this process, for a child process to register in turn."""
    return tuple(sorted(_secrets))


def clear_secrets() -> None:
    """Forget every registered secret (for tests)."""
    _secrets.clear()


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    # Longest first, so that a secret containing another is replaced whole.
    for secret in sorted(_secrets if secrets is None else secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))  # an object's str() may embed a secret (a URL with a token)


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record, in the order they were given."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class RedactingFilter(logging.Filter):
    """Replaces registered secrets in the message, the extras and the traceback of a record.

    Installed on handlers (a filter on a logger does not see records propagated from its
    children). It renders `msg % args` itself so that a secret passed as an argument is caught.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in extras(record).items():
            setattr(record, key, _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _utc(created: float, millis: bool) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    if millis:
        stamp += f".{int(created % 1 * 1000):03d}"
    return stamp + "Z"


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text == "" or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text)
    return text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_utc(record.created, False), record.levelname, record.name, record.getMessage()]
        parts += [f"{k}={_text_value(v)}" for k, v in extras(record).items()]
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _utc(record.created, True),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in extras(record).items():
            data.setdefault(key, value)  # an extra may not overwrite the fixed fields
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, default=str, ensure_ascii=False)


class _BotclusterHandler(logging.StreamHandler):
    """Marks the handler `setup_logging` installed, so that calling it again replaces it."""


def setup_logging(
    level: str | int, fmt: Literal["text", "json"], stream: TextIO | None = None
) -> logging.Handler:
    """Send every record at `level` or above to `stream` (stderr) in `fmt`; returns the handler.

    Idempotent: a second call replaces the handler of the first. Handlers installed by others
    are left alone. The HTTP client libraries are held at WARNING unless `level` is DEBUG.
    """
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}")
    handler = _BotclusterHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _BotclusterHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
    return handler
