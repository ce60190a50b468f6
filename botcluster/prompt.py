"""Prompts for an entity and the clean-up of what its model answers. Pure functions, no I/O.

Prompt layout (`build_messages`), with SEP = "\\n", or "\\n\\n" when `addNewlineToContext`:

    [{"role": system_role, "content": systemPrompt}]       omitted when systemPrompt is empty
    {"role": "user", "content":
        <context line>SEP<context line>SEP...               the last `nom` lines, oldest first
        <human_username>: <human_text>                       the message being answered
        \\n\\n<userPrompt>                                    only when userPrompt is set
        SEP<entity username>:<space>                        only when addEntityUsername
    }

A `systemRole` of "user" folds the system prompt into the start of the user content (followed
by a blank line) instead of sending two user messages in a row, which many chat templates reject.
A context line equal to the human line itself (the site may include it) is not repeated. To reply
under another name (`botParams.ais`), pass `dataclasses.replace(entity, username=...)`.

Token estimates are `ceil(len(text) / 4)` per message content plus `MESSAGE_OVERHEAD_TOKENS` per
message for the chat template's role markers: rough, deliberately pessimistic for English, and
the same on every host, so a prompt that fits here leaves real room for the reply.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from botcluster.config.model import MAX_TEXT_CHARS, Entity

MESSAGE_OVERHEAD_TOKENS = 8
DEFAULT_MARGIN_TOKENS = 64
SKIP_MARKER = "[SKIP]"

Message = dict[str, str]


def build_messages(
    entity: Entity, *, human_username: str, human_text: str, context_lines: Sequence[str]
) -> list[Message]:
    """The OpenAI chat messages for one reply; the layout is in the module docstring."""
    sep = "\n\n" if entity.add_newline_to_context else "\n"
    human_line = f"{human_username}: {human_text}"
    lines = context_window(entity, context_lines, human_line)
    content = sep.join([*lines, human_line])
    if entity.user_prompt:
        content += "\n\n" + entity.user_prompt
    if entity.add_entity_username:
        content += f"{sep}{entity.username}: "
    if not entity.system_prompt:
        return [{"role": "user", "content": content}]
    if entity.system_role == "user":
        return [{"role": "user", "content": f"{entity.system_prompt}\n\n{content}"}]
    return [
        {"role": entity.system_role, "content": entity.system_prompt},
        {"role": "user", "content": content},
    ]


def context_window(entity: Entity, context_lines: Sequence[str], human_line: str) -> list[str]:
    """The last `nom` context lines, without a trailing copy of the human line itself."""
    lines = list(context_lines)
    if lines and lines[-1] == human_line:
        lines.pop()
    return lines[-entity.nom :] if entity.nom > 0 else []


def estimate_tokens(messages: Sequence[Message]) -> int:
    """Estimated prompt tokens: ceil(chars / 4) per content plus a per-message overhead."""
    return sum(math.ceil(len(m["content"]) / 4) + MESSAGE_OVERHEAD_TOKENS for m in messages)


@dataclass(frozen=True)
class Prompt:
    """The messages to send, and what `truncate_context` had to give up to make them fit."""

    messages: list[Message]
    tokens: int  # estimated, see the module docstring
    budget: int
    dropped_lines: int = 0  # oldest context lines left out
    human_chars_cut: int = 0  # characters cut from the start of the human text
    fits: bool = True  # False: even the system prompt alone is over budget

    @property
    def truncated(self) -> bool:
        return self.dropped_lines > 0 or self.human_chars_cut > 0


def truncate_context(
    entity: Entity,
    *,
    human_username: str,
    human_text: str,
    context_lines: Sequence[str],
    context_length: int,
    margin_tokens: int = DEFAULT_MARGIN_TOKENS,
) -> Prompt:
    """The largest prompt that fits `context_length - entity.max_tokens - margin_tokens`.

    Drops the oldest context lines first. The system prompt is never dropped, nor the human
    message; only when the human message alone overflows is its text cut from the start (its
    end is kept: that is where a question usually is). If nothing makes it fit, the full-human,
    no-context prompt is returned with `fits=False`; the caller should fail the attempt
    (`ContextOverflow`) rather than send it.
    """
    budget = context_length - entity.max_tokens - margin_tokens
    lines = context_window(entity, context_lines, f"{human_username}: {human_text}")

    def build(keep: int, text: str = human_text) -> list[Message]:
        kept = lines[len(lines) - keep :] if keep else []
        return build_messages(
            entity, human_username=human_username, human_text=text, context_lines=kept
        )

    # Binary search for the most recent lines that fit: more lines never cost fewer tokens.
    low, high = 0, len(lines)
    while low < high:
        mid = (low + high + 1) // 2
        if estimate_tokens(build(mid)) <= budget:
            low = mid
        else:
            high = mid - 1
    messages = build(low)
    tokens = estimate_tokens(messages)
    if tokens <= budget:
        return Prompt(messages, tokens, budget, dropped_lines=len(lines) - low)
    over_chars = (tokens - budget) * 4
    if over_chars >= len(human_text):
        return Prompt(messages, tokens, budget, dropped_lines=len(lines), fits=False)
    cut = human_text[over_chars:]
    messages = build(0, cut)
    return Prompt(
        messages,
        estimate_tokens(messages),
        budget,
        dropped_lines=len(lines),
        human_chars_cut=len(human_text) - len(cut),
    )


def sampling_params(entity: Entity) -> dict[str, Any]:
    """Keyword arguments for `chat.completions.create`; unset values are left to the host.

    top_k, repeat_penalty and min_p are not OpenAI parameters: they go in `extra_body`, which
    LM Studio and llama.cpp read from the request body.
    """
    params: dict[str, Any] = {"max_tokens": entity.max_tokens}
    if entity.temperature is not None:
        params["temperature"] = entity.temperature
    if entity.top_p is not None:
        params["top_p"] = entity.top_p
    extra = {
        name: value
        for name, value in (
            ("top_k", entity.top_k),
            ("repeat_penalty", entity.repeat_penalty),
            ("min_p", entity.min_p),
        )
        if value is not None
    }
    if extra:
        params["extra_body"] = extra
    return params


@dataclass(frozen=True)
class Cleaned:
    """A model's reply after `clean_reply`.

    outcome "reply": post `text`. "skip": the entity chose not to answer (`[SKIP]`); finish the
    message with that reason. "empty": nothing usable was left; count it and maybe retry.
    """

    text: str | None
    outcome: Literal["reply", "skip", "empty"]
    reason: str


def clean_reply(entity: Entity, raw: str) -> Cleaned:
    """Apply the entity's rules to a raw completion, in this order:

    1. trimAfter: cut at the earliest occurrence of any marker;
    2. filterOut: remove every occurrence of each string;
    3. strip a leading "{username}:" the model echoed (case-insensitive, repeated);
    4. collapse whitespace runs to one space if trimWhitespace (ends are always stripped);
    5. "[SKIP]" alone (case-insensitive) -> skip; nothing left -> empty;
    6. cut to 1000 characters (the site's limit) at the last word boundary.
    """
    notes: list[str] = []
    text = _trim_after(entity.trim_after, raw, notes)
    text = _filter_out(entity.filter_out, text, notes)
    text = _strip_echo(entity.username, text, notes)
    text = " ".join(text.split()) if entity.trim_whitespace else text.strip()
    if text.upper() == SKIP_MARKER:
        return Cleaned(None, "skip", f"{entity.username} chose {SKIP_MARKER}")
    if not text:
        why = "; ".join(notes) if notes else "the model returned no text"
        return Cleaned(None, "empty", f"nothing left ({why})" if notes else why)
    if len(text) > MAX_TEXT_CHARS:
        text = _cut_at_word(text, MAX_TEXT_CHARS)
        notes.append(f"cut to {len(text)} characters")
    return Cleaned(text, "reply", "; ".join(notes))


def _trim_after(markers: Sequence[str], text: str, notes: list[str]) -> str:
    hits = [(i, m) for m in markers if m and (i := text.find(m)) >= 0]
    if not hits:
        return text
    index, marker = min(hits)
    notes.append(f"trimmed at {marker!r}")
    return text[:index]


def _filter_out(strings: Sequence[str], text: str, notes: list[str]) -> str:
    for s in strings:
        if s and s in text:
            # Repeat until stable: removing "ab" from "aabb" makes a new "ab".
            while s in text:
                text = text.replace(s, "")
            notes.append(f"removed {s!r}")
    return text


def _strip_echo(username: str, text: str, notes: list[str]) -> str:
    echo = re.compile(rf"\s*{re.escape(username)}\s*:", re.IGNORECASE)
    stripped = text
    while match := echo.match(stripped):
        stripped = stripped[match.end() :]
    if stripped != text:
        notes.append(f"removed echoed {username + ':'!r}")
    return stripped


def _cut_at_word(text: str, limit: int) -> str:
    """At most `limit` characters, ending at a word boundary when there is one."""
    head = text[: limit + 1]  # one extra: a space right after the limit is a clean boundary
    space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
    if space > 0:
        return text[:space].rstrip()
    return text[:limit]
