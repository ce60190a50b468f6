"""Splitting a JSON list answer into its items while it streams in.

The comments API answers lists (`[...]`, `{"pending": [...]}`, `{"messages": [...]}`) whose items
are records anyone could post. One record of several megabytes, or one nested too deep to
decode, must cost that record only: so the items are cut apart here without decoding them, each
is kept (up to `max_item_bytes`) or dropped, and each kept one is decoded on its own later.
Memory stays bounded by what is kept, however long the body is.

The scanner checks the structure (brackets, strings), not the grammar inside an item: an item
that is not JSON is found when it is decoded, and costs that item only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_SIGNIFICANT = re.compile(rb'[{}\[\]",:]')
_NESTING = re.compile(rb'[{}\[\]"]')  # below the levels where `,` and `:` cut anything
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
SKIM_MIN_BYTES = 256  # shorter runs go byte by byte
SKIM_PASSES = 64  # nesting deeper than this inside one run goes byte by byte
# The rest of a string: anything but a quote or a backslash, or an escaped byte.
_STRING_BODY = re.compile(rb'(?:[^"\\]++|\\.)*+', re.DOTALL)
_WHITESPACE = b" \t\r\n"
_OPEN_TO_CLOSE = {ord("["): ord("]"), ord("{"): ord("}")}
HEAD_BYTES = 512  # what is kept of a dropped item, to name it in the log
MAX_KEY_BYTES = 256


@dataclass
class Item:
    """One item of a list: its bytes, or None when it passed the per-item cap."""

    raw: bytes | None
    size: int
    head: bytes


@dataclass
class Scanned:
    """What a body turned out to be. `error` is set when it is not JSON (or not all of it
    could be kept); otherwise `root` is "list" (items under key ""), "object" (its lists in
    `lists`, its other values' bytes in `fields`) or "scalar" (bytes in `scalar`)."""

    root: str = ""
    lists: dict[str, list[Item]] = field(default_factory=dict)
    fields: dict[str, bytes | None] = field(default_factory=dict)
    scalar: bytes = b""
    error: str | None = None
    oversize: bool = False  # the error is that more than `max_kept_bytes` had to be kept


class ListScanner:
    """Feed the body chunk by chunk (`feed` says False once more input cannot help), then
    call `finish`. `max_kept_bytes` bounds everything kept; past it the body is an error."""

    def __init__(self, *, max_item_bytes: int, max_kept_bytes: int) -> None:
        self.max_item = max_item_bytes
        self.max_kept = max_kept_bytes
        self.kept = 0
        self.head = b""  # the body's first bytes, for error messages
        self.out = Scanned()
        self._stack: list[int] = []
        self._in_string = False
        self._escape = False
        self._expect_key = False  # in the root object, before a key
        self._key = b""
        self._capture: bytearray | None = None  # the current item, field, key or scalar
        self._what = ""  # "item" | "field" | "key" | "scalar" | ""
        self._size = 0
        self._item_head = b""
        self._items: list[Item] | None = None  # the list whose items are being cut
        self._items_depth = 0  # stack depth inside that list
        self._done = False
        self._mark = 0  # where in the current chunk the bytes not yet taken begin

    # --- input ---------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bool:
        if len(self.head) < 200:
            self.head += chunk[:200 - len(self.head)]
        if self.out.error is None:
            try:
                self._scan(chunk)
            except _Broken as exc:
                self.out.error = str(exc)
        return self.out.error is None

    def finish(self) -> Scanned:
        if self.out.error is None:
            if self._what == "scalar":
                self.out.root, self.out.scalar = "scalar", bytes(self._capture or b"")
            elif not self._done:
                self.out.error = "the body ends before its JSON does" if self.out.root \
                    else "empty body"
        return self.out

    # --- the state machine ---------------------------------------------------------------

    def _scan(self, chunk: bytes) -> None:
        pos, n, no_skim = 0, len(chunk), 0
        self._mark = 0
        while pos < n:
            if self._done:
                if chunk[pos:].strip(_WHITESPACE):
                    raise _Broken("data after the end of the JSON")
                return
            if self._in_string:
                pos = self._string(chunk, pos)
            elif self._what == "scalar" or not self.out.root:
                if self._what != "scalar":
                    pos = self._root_start(chunk, pos)
                    continue
                break  # a root scalar keeps everything: taken below
            else:
                level = self._items_depth if self._items is not None else 1
                if len(self._stack) > level and pos >= no_skim:
                    end = chunk.find(b'"', pos)
                    end = n if end < 0 else end
                    if end - pos >= SKIM_MIN_BYTES and self._skim(chunk[pos:end], level):
                        pos = end
                        continue
                    no_skim = end  # this run goes byte by byte: do not try it again
                pattern = _SIGNIFICANT if len(self._stack) <= level else _NESTING
                found = pattern.search(chunk, pos)
                if found is None:
                    break
                at = found.start()
                self._take(chunk[self._mark:at])
                self._mark = at
                self._event(chunk[at], at)
                pos = at + 1
        self._take(chunk[self._mark:])

    def _skim(self, run: bytes, level: int) -> bool:
        """Pass over a run without strings inside an item, in C-speed steps: drop every
        matched pair of brackets, then apply what is left. False (nothing done) when the run
        may come back up to `level`, where its commas would cut items."""
        brackets = run.translate(None, _NOT_BRACKET)
        for _ in range(SKIM_PASSES):
            reduced = brackets.replace(b"{}", b"").replace(b"[]", b"")
            if len(reduced) == len(brackets):
                break
            brackets = reduced
        else:
            return False
        opens = brackets.lstrip(b"]}")
        closes = len(brackets) - len(opens)
        if len(self._stack) - closes <= level or opens.translate(None, b"[{"):
            return False  # back up to `level`, or brackets that do not match: byte by byte
        for ch in brackets[:closes]:
            if _OPEN_TO_CLOSE[self._stack.pop()] != ch:
                raise _Broken(f"unbalanced {chr(ch)!r}")
        self._stack.extend(opens)
        return True

    def _root_start(self, chunk: bytes, pos: int) -> int:
        rest = chunk[pos:].lstrip(_WHITESPACE)
        at = len(chunk) - len(rest)
        self._mark = at
        if not rest:
            return at
        if rest[0] in _OPEN_TO_CLOSE:
            self.out.root = "list" if rest[0] == ord("[") else "object"
            self._stack.append(rest[0])
            self._mark = at + 1
            if self.out.root == "list":
                self._begin_list("")
            else:
                self._expect_key = True
            return at + 1
        self._begin("scalar")
        return at

    def _string(self, chunk: bytes, pos: int) -> int:
        if self._escape:  # the chunk before ended on a backslash: this byte is escaped
            self._escape = False
            pos += 1
        found = _STRING_BODY.match(chunk, pos)  # always matches, maybe nothing
        at = found.end() if found else pos
        if at >= len(chunk):
            return len(chunk)
        if chunk[at] == ord("\\"):  # a lone backslash ends the chunk
            self._escape = True
            return len(chunk)
        self._in_string = False
        if self._what == "key":
            self._take(chunk[self._mark:at])  # the key's bytes, without the quotes
            self._key = bytes(self._capture or b"")
            self._end()
            self._mark = at + 1
        return at + 1

    def _event(self, ch: int, at: int) -> None:
        """Handle the significant byte `ch` at `at` (not yet taken into any capture)."""
        depth = len(self._stack)
        top = depth == 1 and self.out.root == "object"
        if ch == ord('"'):
            self._in_string = True
            if top and self._expect_key and self._what == "":
                self._expect_key = False
                self._begin("key")
                self._mark = at + 1
        elif ch in _OPEN_TO_CLOSE:
            self._stack.append(ch)
            if top and ch == ord("[") and self._what == "field":
                self._end()
                self._begin_list(self._key_text())
                self._mark = at + 1
        elif ch in (ord("]"), ord("}")):
            self._close(ch, at)
        elif ch == ord(","):
            if self._items is not None and depth == self._items_depth:
                self._end_item()
                self._begin("item")
                self._mark = at + 1
            elif top:
                self._end_field()
                self._expect_key = True
                self._mark = at + 1
        elif ch == ord(":") and top and self._what == "":
            self._begin("field")
            self._mark = at + 1

    def _close(self, ch: int, at: int) -> None:
        if not self._stack or _OPEN_TO_CLOSE[self._stack[-1]] != ch:
            raise _Broken(f"unbalanced {chr(ch)!r}")
        if self._items is not None and len(self._stack) == self._items_depth:
            self._end_item()
            self._items = None
            self._mark = at + 1
        elif len(self._stack) == 1:
            self._end_field()
            self._mark = at + 1
        self._stack.pop()
        self._done = not self._stack

    # --- captures ------------------------------------------------------------------------

    def _begin_list(self, key: str) -> None:
        self._items = self.out.lists.setdefault(key, [])
        self._items_depth = len(self._stack)
        self._begin("item")

    def _begin(self, what: str) -> None:
        self._what, self._capture, self._size, self._item_head = what, bytearray(), 0, b""

    def _take(self, data: bytes) -> None:
        if not data or not self._what:
            return
        self._size += len(data)
        if self._capture is None:
            return
        if len(self._item_head) < HEAD_BYTES:
            self._item_head += data[:HEAD_BYTES - len(self._item_head)]
        cap = MAX_KEY_BYTES if self._what == "key" else self.max_item
        if self._size > cap:
            self.kept -= len(self._capture)
            self._capture = None
            return
        self._capture += data
        self.kept += len(data)
        if self.kept > self.max_kept:
            self.out.oversize = True
            raise _Broken(f"more than {self.max_kept} bytes of items to keep")

    def _end(self) -> None:
        self._what, self._capture = "", None

    def _end_item(self) -> None:
        raw = None if self._capture is None else bytes(self._capture)
        if raw is None or raw.strip(_WHITESPACE):
            assert self._items is not None
            self._items.append(Item(raw, self._size, self._item_head))
        self._end()

    def _end_field(self) -> None:
        if self._what == "field":
            key = self._key_text()
            self.out.fields[key] = None if self._capture is None else bytes(self._capture)
        self._end()

    def _key_text(self) -> str:
        text = self._key.decode("utf-8", errors="surrogateescape")
        try:
            key = json.loads(f'"{text}"')
        except ValueError:
            return text
        return key if isinstance(key, str) else text


class _Broken(Exception):
    """The body's structure is not JSON's."""
