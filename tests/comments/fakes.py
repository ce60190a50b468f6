"""Test doubles for the comments client: a scripted site behind httpx.MockTransport, and a sleep
that only records. Both are real objects handed to the client through its seams."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from botcluster.comments import Backoff, CommentsClient

T = TypeVar("T")
Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]
BASE_URL = "http://127.0.0.1:9"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FakeSleep:
    """Returns at once; remembers every delay asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: httpx.Headers


@dataclass
class FakeSite:
    """Answers per (method, path): a list is played in order (the last answer repeats), an
    exception is raised as the transport would, a callable builds the answer. Unknown: 404."""

    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: Answer) -> FakeSite:
        self.routes[(method, path)] = list(answers)
        return self

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.seen.append(Seen(request.method, request.url.path, dict(request.url.params), body,
                              request.headers))
        answers = self.routes.get((request.method, request.url.path))
        if not answers:
            return httpx.Response(404, text="Not found")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def js(data: Any, status: int = 200, **headers: str) -> httpx.Response:
    # ensure_ascii: lone surrogates go out as JSON escapes, as a JavaScript server sends them.
    return httpx.Response(status, content=json.dumps(data).encode(),
                          headers={"content-type": "application/json", **headers})


def raw(body: bytes, status: int = 200, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": content_type})


def human(mid: str = "1761571872625-2qa6p4o4k", **over: Any) -> dict[str, Any]:
    """A valid human message addressed to an entity, as the site sends it."""
    msg: dict[str, Any] = {
        "id": mid, "text": "Why are socks colorful sometimes?", "timestamp": 1761571872625,
        "username": "Human", "color": "080195229", "domain": "saywhatwant.app",
        "language": "en", "message-type": "human", "misc": "",
        "context": ["Human: hi", "EmotionalGuide: Hello!"],
        "botParams": {"entity": "emotional-intelligence", "priority": 5,
                      "ais": "EmotionalGuide:186207080", "processed": False,
                      "status": "pending", "claimedBy": None, "claimedAt": None, "attempts": 0},
    }
    msg.update(over)
    return msg


def client(site: FakeSite, dialect: str = "kv", sleep: FakeSleep | None = None,
           **kw: Any) -> CommentsClient:
    kw.setdefault("backoff", Backoff(base_s=0.5, cap_s=20.0, retry_after_cap_s=60.0))
    base_url = kw.pop("base_url", BASE_URL)
    return CommentsClient(base_url, dialect=dialect, transport=httpx.MockTransport(site),
                          sleep=sleep or FakeSleep(), rng=random.Random(7), **kw)
