"""The OpenAI-compatible `/v1/chat/completions` of a simulated host, streaming and not.

Shared by every flavour. Order of events for one request: auth (by the caller), parse, injected
fault, the instance (JIT load included), the context check, then the prediction in its slot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from botcluster.sim.errors import BadRequest, RequestLost, SimError
from botcluster.sim.text import prompt_tokens, reply_length, reply_words, request_rng

if TYPE_CHECKING:
    from botcluster.sim.server import HostServer

log = logging.getLogger(__name__)


class DropConnection(Exception):  # a signal to the server, not an error
    """Raised after the response started: the server closes the connection mid-reply."""


def error_response(exc: SimError) -> JSONResponse:
    """LM Studio's error body: an OpenAI-style object with a message."""
    return JSONResponse({"error": {"message": exc.message, "type": "invalid_request_error"
                                   if exc.status < 500 else "server_error", "code": exc.code}},
                        status_code=exc.status)


class DroppedResponse(Response):
    """Headers, part of a body, then a closed connection (what a client sees as dropped)."""

    def __init__(self, partial: bytes = b"") -> None:
        super().__init__()
        self.partial = partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", b"100000")]})
        await send({"type": "http.response.body", "body": self.partial, "more_body": True})
        raise DropConnection()


async def parse(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise BadRequest("'model' is required")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise BadRequest("'messages' must be a non-empty array")
    return body


async def chat_completions(request: Request, srv: HostServer,
                           force_model: str | None = None, v0: bool = False) -> Response:
    """Handle one chat completion; every outcome is counted in the host's stats.

    `force_model`: serve this model whatever the request names (llama-server does that).
    `v0`: LM Studio's /api/v0 endpoint, whose whole (non-streamed) answer adds `stats` and
    `model_info`.
    """
    arrived = srv.clock.now()
    try:
        body = await parse(request)
        if force_model is not None:
            body["model"] = force_model
    except SimError as exc:
        srv.stats.outcome(exc.outcome)
        return error_response(exc)
    fault = srv.faults.decide()
    if fault == "error":
        srv.stats.outcome("fault_error")
        return JSONResponse({"error": {"message": "simulated internal server error",
                                       "type": "server_error", "code": "internal_error"}}, 500)
    if fault == "hang":
        srv.stats.outcome("fault_hang")
        await asyncio.Event().wait()  # until the client or the host goes away
    try:
        inst = await srv.engine.instance_for_chat(body["model"], _ttl(body))
        n_prompt = prompt_tokens(body["messages"])
        srv.engine.check_context(inst, n_prompt)
    except SimError as exc:
        srv.stats.outcome(exc.outcome)
        return error_response(exc)
    rng = request_rng(srv.seed, srv.spec.name, body, srv.repeat_count(body))
    n_tokens = reply_length(rng, body.get("max_tokens"))
    words = reply_words(rng, inst.key, srv.spec.name, n_tokens)
    drop_after = max(1, n_tokens // 2) if fault == "drop" else None
    reply = Reply(srv, inst.key, inst.id, body, n_prompt, words, drop_after)
    reply.v0_since = arrived if v0 else None
    if body.get("stream"):
        return StreamingResponse(reply.stream(), media_type="text/event-stream")
    return await reply.whole()


def _ttl(body: dict[str, Any]) -> float | None:
    ttl = body.get("ttl")
    return float(ttl) if isinstance(ttl, int | float) and ttl > 0 else None


class Reply:
    """One granted completion, delivered whole or as server-sent events."""

    def __init__(self, srv: HostServer, model: str, instance_id: str, body: dict[str, Any],
                 n_prompt: int, words: list[str], drop_after: int | None) -> None:
        self.srv = srv
        self.model = model
        self.instance_id = instance_id
        self.body = body
        self.n_prompt = n_prompt
        self.words = words
        self.drop_after = drop_after
        self.id = f"chatcmpl-sim-{srv.next_id()}"
        self.created = int(srv.clock.now())
        self.v0_since: float | None = None  # arrival time, for LM Studio's v0 `stats`

    def _tokens(self) -> AsyncIterator[int]:
        inst = self.srv.engine.instances.get(self.instance_id)
        if inst is None:
            raise SimError(f'model "{self.instance_id}" was unloaded')
        return self.srv.engine.generate(inst, len(self.words), self.drop_after)

    async def whole(self) -> Response:
        try:
            async for _ in self._tokens():
                pass
        except RequestLost:
            self.srv.stats.outcome("lost")
            return DroppedResponse()
        except SimError as exc:
            self.srv.stats.outcome(exc.outcome)
            return error_response(exc)
        if self.drop_after is not None:
            self.srv.stats.outcome("fault_drop")
            return DroppedResponse(b'{"id": "' + self.id.encode() + b'", "choices": [')
        self.srv.stats.outcome("ok")
        body = self.completion()
        if self.v0_since is not None:
            body.update(self._v0_extras(self.v0_since))
        return JSONResponse(body)

    def _v0_extras(self, since: float) -> dict[str, Any]:
        """`stats` and `model_info` as LM Studio's /api/v0 adds them (simulated seconds).

        The host generates at its spec's rate, so the generation took n / tokens_per_s, and
        the rest since arrival (a JIT load, a wait for a slot, ttft) came before the first
        token."""
        total = self.srv.clock.now() - since
        rate = self.srv.spec.tokens_per_s
        generation = len(self.words) / rate
        inst = self.srv.engine.instances.get(self.instance_id)
        stop = ("maxPredictedTokensReached" if self._finish_reason() == "length"
                else "eosFound")
        return {"stats": {"tokens_per_second": round(rate, 2),
                          "time_to_first_token": round(max(0.0, total - generation), 3),
                          "generation_time": round(generation, 3), "stop_reason": stop},
                "model_info": {"quant": self.model.partition("@")[2].upper() or None,
                               "context_length": inst.context_length if inst else None}}

    def _finish_reason(self) -> str:
        max_tokens = self.body.get("max_tokens")
        return "length" if max_tokens and len(self.words) >= max_tokens else "stop"

    def usage(self) -> dict[str, int]:
        n = len(self.words)
        return {"prompt_tokens": self.n_prompt, "completion_tokens": n,
                "total_tokens": self.n_prompt + n}

    def completion(self) -> dict[str, Any]:
        return {
            "id": self.id, "object": "chat.completion", "created": self.created,
            "model": self.model, "system_fingerprint": self.model,
            "choices": [{"index": 0, "logprobs": None, "finish_reason": self._finish_reason(),
                         "message": {"role": "assistant", "content": "".join(self.words)}}],
            "usage": self.usage(),
        }

    def _chunk(self, delta: dict[str, str], finish: str | None) -> bytes:
        data: dict[str, Any] = {
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model, "system_fingerprint": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if finish is not None:
            data["usage"] = self.usage()
        return b"data: " + json.dumps(data).encode() + b"\n\n"

    async def stream(self) -> AsyncIterator[bytes]:
        sent = 0
        try:
            async for n in self._tokens():
                yield self._chunk({"role": "assistant", "content": "".join(
                    self.words[sent:sent + n])}, None)
                sent += n
        except RequestLost:
            self.srv.stats.outcome("lost")
            raise DropConnection() from None
        except SimError as exc:
            self.srv.stats.outcome(exc.outcome)
            yield b"data: " + json.dumps({"error": {"message": exc.message,
                                                     "code": exc.code}}).encode() + b"\n\n"
            return
        if self.drop_after is not None:
            self.srv.stats.outcome("fault_drop")
            raise DropConnection()
        self.srv.stats.outcome("ok")
        yield self._chunk({}, self._finish_reason())
        yield b"data: [DONE]\n\n"
