"""llama.cpp `llama-server`: one served model, slots from `/props`, health from `/health`."""

from __future__ import annotations

from typing import Any

from botcluster.core.cluster import HostReport
from botcluster.hosts.adapters.base import HostAdapter, HostStatus


class LlamaCppAdapter(HostAdapter):
    kind = "llamacpp"

    async def state(self) -> HostReport:
        try:
            await self.get_json("/health")
        except HostStatus as exc:
            if exc.status == 503:  # loading the model: up, but nothing to route to yet
                return HostReport(host=self.host.name, up=True, loaded={})
            raise
        props = await self.get_json("/props")
        slots = _int(props.get("total_slots"))
        ctx = _slot_context(props)
        models = list(self.host.models) or await self._served()
        # One server serves one model: its total_slots are that model's slots and, the server
        # being the whole host, the host's limit too.
        return HostReport(host=self.host.name, up=True, slots=slots,
                          loaded=dict.fromkeys(models, ctx),
                          parallel=dict.fromkeys(models, slots) if slots else {})

    async def _served(self) -> list[str]:
        data = await self.get_json("/v1/models")
        return [self.from_host(str(m.get("id"))) for m in data.get("data", [])
                if isinstance(m, dict) and m.get("id")]


def _slot_context(props: dict[str, Any]) -> int:
    """The context one request may use: llama.cpp splits n_ctx between its slots."""
    settings = props.get("default_generation_settings")
    if isinstance(settings, dict):
        n = _int(settings.get("n_ctx"))
        if n:
            return n
    return 0


def _int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None
