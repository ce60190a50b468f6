"""What JSON the board accepts and serves: only values every JSON reader can carry back.

Python's `json` reads `1e999` as infinity and `1` followed by 400 zeros as an exact integer, and
nests as deep as its stack allows. Stored as they are, such values break every later answer that
includes them (`allow_nan=False` refuses infinity, JavaScript turns big integers into other
numbers, a Python reader overflows its stack). So a body is checked once, when it arrives, and a
stored record is checked again before it is served, so that a record written by an older
version is skipped, not answered with 500 to everyone.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's; beyond it an integer is not carried exactly
MAX_DEPTH = 32  # arrays and objects inside each other, the body itself counting as 1


class UnsafeJSON(ValueError):
    """The text is not JSON, or holds a value the board will not store; the text says which."""


def _reject_constant(name: str) -> Any:
    raise UnsafeJSON(f"{name} is not JSON")


def _checked_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJSON(f"number {text[:20]}... is out of range" if len(text) > 20
                         else f"number {text} is out of range")
    return value


def _checked_int(text: str) -> int:
    digits = text.lstrip("-").lstrip("0")
    if len(digits) > 16 or abs(int(text)) > MAX_SAFE_INTEGER:
        shown = text if len(text) <= 20 else text[:20] + "..."
        raise UnsafeJSON(f"integer {shown} is beyond 2^53-1")
    return int(text)


def loads(raw: bytes | str) -> Any:
    """Parse a body; `UnsafeJSON` naming the problem when it is not JSON the board can keep."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_checked_float,
                           parse_int=_checked_int)
    except UnsafeJSON:
        raise
    except RecursionError as exc:
        raise UnsafeJSON(f"nested deeper than {MAX_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsafeJSON("Invalid JSON body") from exc
    found = problem(value)
    if found is not None:
        raise UnsafeJSON(found)
    return value


def problem(value: Any) -> str | None:
    """Why `value` cannot be served as JSON to any reader, or None when it can.

    Iterative, so a value nested deeper than the stack is judged, not crashed on.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            if isinstance(item, dict):
                if not all(isinstance(k, str) for k in item):
                    return "object keys must be strings"
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                return "integer beyond 2^53-1"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "number out of range"
        else:
            return f"{type(item).__name__} is not JSON"
    return None


def dumps(value: Any) -> str:
    """The stored text of a value: ASCII escapes, so lone surrogates (valid JSON escapes,
    invalid UTF-8) stay storable; never `Infinity` or `NaN`."""
    return json.dumps(value, allow_nan=False)
