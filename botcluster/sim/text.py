"""Synthetic replies and token estimates.

Tokens are estimated as one per 4 characters of message text (rounded up), the usual rule of
thumb for English with BPE tokenizers; the reply's tokens are its words, one token each.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from typing import Any

CHARS_PER_TOKEN = 4
DEFAULT_MAX_TOKENS = 200
WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed",
         "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna")


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Estimated prompt tokens: characters of every message's content / 4, rounded up."""
    chars = 0
    for m in messages:
        content = m.get("content", "")
        chars += len(content) if isinstance(content, str) else len(json.dumps(content))
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def request_rng(seed: int, host: str, body: dict[str, Any], nth: int) -> random.Random:
    """A generator fixed by the seed, the host, the request's content and its repeat count.

    Keyed on content rather than arrival order, so that concurrent requests get the same replies
    under the same seed however the event loop interleaves them.
    """
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return random.Random(f"{seed}|{host}|{digest}|{nth}")


def reply_length(rng: random.Random, max_tokens: int | None) -> int:
    """Completion tokens: uniform between half of `max_tokens` and `max_tokens`."""
    limit = DEFAULT_MAX_TOKENS if not max_tokens or max_tokens < 0 else max_tokens
    return rng.randint(max(1, limit // 2), limit)


def reply_words(rng: random.Random, model: str, host: str, n_tokens: int) -> list[str]:
    """`n_tokens` words (each followed by a space) that say the reply is simulated."""
    head = ["[simulated", "reply", f"from {model}", f"on {host}]"]
    words = head[:n_tokens]
    words += [rng.choice(WORDS) for _ in range(n_tokens - len(words))]
    return [w + " " for w in words[:-1]] + [words[-1]] if words else []
