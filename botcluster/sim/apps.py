"""The Starlette app of a simulated host: its flavour's routes, auth, and the /sim admin routes.

Admin routes (never behind the API token):
- GET /sim/stats: counters (simulated seconds), memory, instances, up/down.
- GET /sim/faults, POST /sim/faults: rates `error_rate`, `hang_rate`, `drop_rate`, and
  `down_for_s` (go down for that long, simulated; `down_after_s` delays it).
- POST /sim/stats/reset: zero the counters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from botcluster.errors import ConfigError

if TYPE_CHECKING:
    from botcluster.sim.server import HostServer


class BearerAuth:
    """LM Studio 0.4 auth: `Authorization: Bearer <token>` on every API route when set."""

    def __init__(self, app: ASGIApp, token: str, srv: HostServer) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.srv = srv

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/sim/"):
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != self.expected:
                self.srv.stats.outcome("unauthorized")
                response = JSONResponse({"error": {
                    "message": "Invalid or missing API token. Pass it as "
                               "'Authorization: Bearer <token>'.",
                    "type": "invalid_request_error", "code": "unauthorized"}}, 401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def admin_routes(srv: HostServer) -> list[Route]:
    async def stats(request: Request) -> Response:
        return JSONResponse(stats_body(srv))

    async def reset(request: Request) -> Response:
        srv.stats.reset()
        return JSONResponse(stats_body(srv))

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ConfigError("/sim/faults", "", "body must be a JSON object")
                apply_faults(srv, body)
            except ConfigError as exc:
                return JSONResponse({"error": str(exc)}, 400)
            except ValueError as exc:
                return JSONResponse({"error": f"/sim/faults: {exc}"}, 400)
        return JSONResponse(srv.faults.to_dict())

    return [Route("/sim/stats", stats), Route("/sim/stats/reset", reset, methods=["POST"]),
            Route("/sim/faults", faults, methods=["GET", "POST"])]


def apply_faults(srv: HostServer, body: dict[str, Any]) -> None:
    """Apply a POST /sim/faults body; ConfigError for anything it does not understand."""
    body = dict(body)
    down_for = body.pop("down_for_s", None)
    down_after = body.pop("down_after_s", 0.0)
    for name, value in (("down_for_s", down_for), ("down_after_s", down_after)):
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise ConfigError("/sim/faults", name, "must be a non-negative number")
    srv.faults.update(body)
    if down_for is not None:
        srv.schedule_down(float(down_for), delay=float(down_after), real_delay=0.05)


def stats_body(srv: HostServer) -> dict[str, Any]:
    engine = srv.engine
    return {
        "host": srv.spec.name, "flavour": srv.spec.flavour, "url": srv.url, "up": srv.up,
        "now": srv.clock.now(), "memory_gb": srv.spec.memory_gb,
        "memory_used_gb": engine.used_gb,
        "instances": [{"id": i.id, "model": i.key, "loaded": i.loaded, "active": i.active,
                       "jit": i.jit, "ttl_s": i.ttl_s} for i in engine.instances.values()],
        **srv.stats.to_dict(),
    }


def build_app(srv: HostServer) -> ASGIApp:
    """The whole ASGI app for `srv`'s flavour."""
    if srv.spec.flavour == "ollama":
        from botcluster.sim.ollama import routes
    elif srv.spec.flavour == "llamacpp":
        from botcluster.sim.llamacpp import routes
    else:
        from botcluster.sim.lmstudio import routes
    app: ASGIApp = Starlette(routes=[*admin_routes(srv), *routes(srv)])
    if srv.spec.api_token:
        app = BearerAuth(app, srv.spec.api_token, srv)
    return app
