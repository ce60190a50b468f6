"""Ollama's dialect (HOSTS.md): /api/tags, /api/ps, /api/generate preload and unload, and the
OpenAI-compatible chat. `keep_alive` (seconds, or "5m"/"1h"/"30s") is the idle TTL; 0 unloads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from botcluster.sim.chat import chat_completions
from botcluster.sim.errors import BadRequest, SimError
from botcluster.sim.spec import ModelSpec

if TYPE_CHECKING:
    from botcluster.sim.server import HostServer

GB = 1024**3
DEFAULT_KEEP_ALIVE_S = 300.0
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # simulated time 0, for timestamps


def keep_alive_seconds(value: Any) -> float:
    """Ollama's keep_alive: a number of seconds or a duration string like "5m"."""
    if value is None:
        return DEFAULT_KEEP_ALIVE_S
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        units = {"s": 1, "m": 60, "h": 3600}
        try:
            if value[-1] in units:
                return float(value[:-1]) * units[value[-1]]
            return float(value)
        except ValueError:
            pass
    raise BadRequest(f"invalid keep_alive: {value!r}")


def _stamp(sim_seconds: float) -> str:
    return (EPOCH + dt.timedelta(seconds=sim_seconds)).isoformat()


def _tag(model: ModelSpec) -> dict[str, Any]:
    return {"name": model.key, "model": model.key, "size": int(model.size_gb * GB),
            "digest": hashlib.sha256(model.key.encode()).hexdigest(), "modified_at": _stamp(0),
            "details": {"format": "gguf", "family": "llama", "quantization_level": "Q4_K_M"}}


def routes(srv: HostServer) -> list[Route]:
    engine = srv.engine

    async def tags(request: Request) -> Response:
        return JSONResponse({"models": [_tag(m) for m in srv.spec.models]})

    async def ps(request: Request) -> Response:
        out = []
        for i in engine.instances.values():
            if i.loaded:
                expires = i.last_used + (i.ttl_s if i.ttl_s is not None else 10**9)
                out.append({**_tag(i.model), "size_vram": int(i.size_gb * GB),
                            "expires_at": _stamp(expires), "context_length": i.context_length})
        return JSONResponse({"models": out})

    async def generate(request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("model"), str):
                raise BadRequest("model is required")
            model = engine.catalogue(body["model"]).key
            keep = keep_alive_seconds(body.get("keep_alive"))
            reason = "unload" if keep == 0 else "load"
            if keep == 0:
                for inst in engine.instances_of(model):
                    engine.unload(inst.id)
            elif not engine.instances_of(model):
                await engine.load(model, jit=True, ttl_s=keep)
        except SimError as exc:
            return JSONResponse({"error": exc.message}, exc.status)
        except ValueError:
            return JSONResponse({"error": "request body is not JSON"}, 400)
        return JSONResponse({"model": model, "created_at": _stamp(srv.clock.now()),
                             "response": "", "done": True, "done_reason": reason})

    async def v1_models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": m.key, "object": "model", "owned_by": "library"} for m in srv.spec.models]})

    async def chat(request: Request) -> Response:
        return await chat_completions(request, srv)

    return [Route("/api/tags", tags), Route("/api/ps", ps),
            Route("/api/generate", generate, methods=["POST"]),
            Route("/v1/models", v1_models),
            Route("/v1/chat/completions", chat, methods=["POST"])]
