"""llama.cpp `llama-server`'s dialect (HOSTS.md): one served model (the catalogue's first, loaded
at start), /health, /props (total_slots), /slots (?fail_on_no_slot=1), /v1/models and chat.
Like the real server it ignores the request's `model` field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from botcluster.sim.chat import chat_completions

if TYPE_CHECKING:
    from botcluster.sim.server import HostServer


def routes(srv: HostServer) -> list[Route]:
    engine = srv.engine
    served = srv.spec.models[0]

    def ready() -> bool:
        return any(i.loaded for i in engine.instances_of(served.key))

    async def health(request: Request) -> Response:
        if ready():
            return JSONResponse({"status": "ok"})
        return JSONResponse({"error": {"code": 503, "message": "Loading model",
                                       "type": "unavailable_error"}}, 503)

    async def props(request: Request) -> Response:
        return JSONResponse({"total_slots": srv.spec.slots_per_host,
                             "model_path": f"/models/{served.key}.gguf",
                             "default_generation_settings": {
                                 "n_ctx": served.context_length // srv.spec.slots_per_host}})

    async def slots(request: Request) -> Response:
        busy = engine.slots.active
        total = srv.spec.slots_per_host
        if request.query_params.get("fail_on_no_slot") == "1" and busy >= total:
            return JSONResponse({"error": {"code": 503, "message": "no slot available",
                                           "type": "unavailable_error"}}, 503)
        return JSONResponse([{"id": n, "is_processing": n < busy,
                              "n_ctx": served.context_length // total} for n in range(total)])

    async def v1_models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": served.key, "object": "model", "owned_by": "llamacpp"}]})

    async def chat(request: Request) -> Response:
        return await chat_completions(request, srv, force_model=served.key)

    return [Route("/health", health), Route("/props", props), Route("/slots", slots),
            Route("/v1/models", v1_models),
            Route("/v1/chat/completions", chat, methods=["POST"])]
