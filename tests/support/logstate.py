"""Tests that call `setup_logging` change process-wide state: put it back afterwards."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from botcluster.logs import NOISY_LOGGERS


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    """Restore the root handlers and level, and the quietened loggers' levels, on exit."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    try:
        yield
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        root.setLevel(level)
        for name, old in noisy.items():
            logging.getLogger(name).setLevel(old)
