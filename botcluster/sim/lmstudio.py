"""LM Studio's REST dialect (HOSTS.md): /v1/models, /api/v0/models, /api/v1/models, load, unload.

`/v1/models` lists every downloaded model when JIT is on and only loaded instances when it is
off, exactly the ambiguity the router has to live with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from botcluster.sim.chat import chat_completions, error_response
from botcluster.sim.errors import BadRequest, SimError
from botcluster.sim.slots import Instance
from botcluster.sim.spec import ModelSpec

if TYPE_CHECKING:
    from botcluster.sim.server import HostServer

GB = 1024**3


def quantization(model: ModelSpec) -> str:
    return "F16" if model.key.endswith("@f16") else "Q4_K_M"


def v0_entry(model: ModelSpec, inst: Instance | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": inst.id if inst else model.key, "object": "model", "type": "llm",
        "publisher": "botcluster-sim", "arch": "llama", "compatibility_type": "gguf",
        "quantization": quantization(model), "state": "loaded" if inst else "not-loaded",
        "max_context_length": model.context_length}
    if inst:
        entry["loaded_context_length"] = inst.context_length
    return entry


def v1_entry(srv: HostServer, model: ModelSpec) -> dict[str, Any]:
    loaded = [i for i in srv.engine.instances_of(model.key) if i.loaded]
    return {
        "type": "llm", "publisher": "botcluster-sim", "key": model.key,
        "display_name": model.key, "architecture": "llama", "format": "gguf",
        "quantization": {"name": quantization(model)},
        "size_bytes": int(model.size_gb * GB), "max_context_length": model.context_length,
        "loaded_instances": [{"id": i.id, "config": {
            "context_length": i.context_length, "parallel": i.parallel,
            "ttl": i.ttl_s}} for i in loaded],
    }


def routes(srv: HostServer) -> list[Route]:
    engine = srv.engine

    async def v1_models(request: Request) -> Response:
        loaded = [i.id for i in engine.instances.values() if i.loaded]
        if srv.spec.jit:
            ids = [m.key for m in srv.spec.models] + [i for i in loaded if ":" in i]
        else:
            ids = loaded
        return JSONResponse({"object": "list", "data": [
            {"id": i, "object": "model", "owned_by": "organization_owner"} for i in ids]})

    async def v0_models(request: Request) -> Response:
        data = []
        for m in srv.spec.models:
            loaded = [i for i in engine.instances_of(m.key) if i.loaded]
            data += [v0_entry(m, i) for i in loaded] if loaded else [v0_entry(m, None)]
        return JSONResponse({"object": "list", "data": data})

    async def v0_model(request: Request) -> Response:
        key = request.path_params["model"]
        try:
            model = engine.catalogue(key.split(":")[0])
        except SimError as exc:
            return error_response(exc)
        inst = engine.instances.get(key)
        return JSONResponse(v0_entry(model, inst if inst and inst.loaded else None))

    async def v1_models_native(request: Request) -> Response:
        return JSONResponse({"models": [v1_entry(srv, m) for m in srv.spec.models]})

    async def load(request: Request) -> Response:
        started = srv.clock.now()
        try:
            body = await _body(request, "model")
            ctx = body.get("context_length")
            inst = await engine.load(body["model"], jit=False, ttl_s=body.get("ttl"),
                                     context_length=int(ctx) if ctx else None)
        except SimError as exc:
            return error_response(exc)
        return JSONResponse({"type": "llm", "instance_id": inst.id, "status": "loaded",
                             "load_time_seconds": round(srv.clock.now() - started, 3),
                             "load_config": {"context_length": inst.context_length,
                                             "parallel": inst.parallel}})

    async def unload(request: Request) -> Response:
        try:
            body = await _body(request, "instance_id")
            engine.unload(body["instance_id"])
        except SimError as exc:
            return error_response(exc)
        return JSONResponse({"instance_id": body["instance_id"]})

    async def chat(request: Request) -> Response:
        return await chat_completions(request, srv)

    async def chat_v0(request: Request) -> Response:
        return await chat_completions(request, srv, v0=True)

    return [
        Route("/v1/models", v1_models), Route("/api/v0/models", v0_models),
        Route("/api/v0/models/{model:path}", v0_model), Route("/api/v1/models", v1_models_native),
        Route("/api/v1/models/load", load, methods=["POST"]),
        Route("/api/v1/models/unload", unload, methods=["POST"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/api/v0/chat/completions", chat_v0, methods=["POST"]),
    ]


async def _body(request: Request, required: str) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("request body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get(required), str):
        raise BadRequest(f"'{required}' is required")
    return body
