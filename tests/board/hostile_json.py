"""Hypothesis strategies for hostile POST bodies, built as raw JSON text.

Raw text, because the values that hurt cannot all come out of `json.dumps`: `1e999`, a
5,000-digit integer, `NaN`, nesting deeper than Python's stack, invalid UTF-8. Each body is
either message-shaped (every field of CONTRACT section 3, each one sensible or hostile) or any
JSON value at all, or not JSON.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

FIELDS = ("id", "text", "timestamp", "username", "color", "domain", "language",
          "message-type", "misc", "context", "botParams", "replyTo")
BOT_PARAMS = ("entity", "priority", "status", "attempts", "claimedBy", "claimedAt",
              "processed", "model", "ais")

NUMBERS = st.one_of(
    st.sampled_from(["1e999", "-1e999", "1E400", "NaN", "Infinity", "-Infinity", "-0",
                     "9007199254740991", "9007199254740992", "-9007199254740993",
                     "1" + "0" * 400, "9" * 5000, "1e308", "-1e-400", "0.5", "0", "1"]),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
)
LONE_SURROGATES = st.lists(st.integers(0xD800, 0xDFFF).map(chr), min_size=1, max_size=3)
STRINGS = st.one_of(
    st.text(max_size=40).map(json.dumps),
    st.tuples(st.text(max_size=5), LONE_SURROGATES).map(
        lambda t: json.dumps(t[0] + "".join(t[1]))),
    st.integers(1, 100_000).map(lambda n: json.dumps("w" * n)),  # up to past the body limit
    st.sampled_from(["saywhatwant.app", "ei", "human", "AI", "pending", "", " ", "\n"])
    .map(json.dumps),
)
ATOMS = st.one_of(NUMBERS, STRINGS, st.sampled_from(["true", "false", "null"]))


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(pairs: dict[str, str]) -> str:
    return "{" + ",".join(json.dumps(k) + ":" + v for k, v in pairs.items()) + "}"


def _nested(kind_depth: tuple[bool, int]) -> str:
    as_array, depth = kind_depth
    if as_array:
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


NESTED = st.tuples(st.booleans(), st.integers(1, 3000)).map(_nested)
# Values that are valid and storable, only of the wrong type or shape for their field.
STORABLE = st.recursive(
    st.one_of(st.integers(-(2**53) + 1, 2**53 - 1).map(str),
              st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
              st.text(max_size=20).map(json.dumps),
              st.tuples(st.text(max_size=5), LONE_SURROGATES).map(
                  lambda t: json.dumps(t[0] + "".join(t[1]))),
              st.integers(1, 30).map(lambda n: json.dumps("z" * n * 1000)),
              st.tuples(st.booleans(), st.integers(1, 28)).map(_nested),
              st.sampled_from(["true", "false", "null", "{}", "[]"])),
    lambda children: st.one_of(st.lists(children, max_size=3).map(_array),
                               st.dictionaries(st.text(max_size=8), children,
                                               max_size=3).map(_object)),
    max_leaves=4)
# Anything at all, the values no reader can carry back among them.
VALUES = st.recursive(
    st.one_of(ATOMS, NESTED),
    lambda children: st.one_of(st.lists(children, max_size=4).map(_array),
                               st.dictionaries(st.text(max_size=8), children,
                                               max_size=4).map(_object)),
    max_leaves=4)


def _sensible(field: str) -> st.SearchStrategy[str]:
    """A value of the kind the site's frontend sends for `field`."""
    if field == "timestamp":
        return st.integers(1, 1_800_000_000_000).map(str)
    if field == "context":
        return st.lists(st.text(max_size=20).map(json.dumps), max_size=3).map(_array)
    if field == "id":
        return st.integers(10**12, 10**13 - 1).map(lambda n: json.dumps(f"{n}-abcdefghi"))
    return st.sampled_from(["hello", "Human", "080195229", "saywhatwant.app", "en",
                            "human", "AI", ""]).map(json.dumps)


def _field(field: str, anything: bool) -> st.SearchStrategy[str]:
    """Sensible or of the wrong type; with `anything`, possibly a value nobody can carry."""
    if field == "botParams":
        return bot_params(anything)
    return st.one_of(_sensible(field), STORABLE, *([VALUES] if anything else []))


@st.composite
def bot_params(draw: st.DrawFn, anything: bool) -> str:
    """botParams: an object of queue fields (sensible or hostile), or another value."""
    if draw(st.booleans()):
        return draw(VALUES if anything else STORABLE)
    keys = draw(st.lists(st.sampled_from(BOT_PARAMS), unique=True, max_size=len(BOT_PARAMS)))
    pairs = {k: draw(_field(k, anything)) for k in keys}
    if draw(st.booleans()):
        pairs["entity"] = json.dumps("ei")  # queued: the bot's pending list sees it
    return _object(pairs)


@st.composite
def message_body(draw: st.DrawFn) -> str:
    """A message-shaped object: some of the contract's fields, each sensible or hostile."""
    keys = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=len(FIELDS)))
    anything = draw(st.sampled_from([False, False, True]))  # mostly bodies the board keeps
    pairs = {k: draw(_field(k, anything)) for k in keys}
    if draw(st.sampled_from([True, True, True, False])):
        pairs["text"] = json.dumps("hi")  # most bodies get past the text check
    if draw(st.booleans()):
        pairs["domain"] = json.dumps("saywhatwant.app")
    return _object(pairs)


BODIES = st.one_of(
    message_body().map(str.encode),
    VALUES.map(str.encode),
    st.binary(max_size=30),  # not JSON, or not UTF-8
)
