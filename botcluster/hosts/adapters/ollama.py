"""Ollama: `/api/ps` for what is in memory, `/api/tags` for sizes, keep_alive loads."""

from __future__ import annotations

from botcluster.core.cluster import HostReport
from botcluster.errors import ModelLoadError
from botcluster.hosts.adapters.base import GB, HostAdapter, HostStatus


class OllamaAdapter(HostAdapter):
    kind = "ollama"
    can_load = True

    async def state(self) -> HostReport:
        ps = await self.get_json("/api/ps")
        tags = await self.get_json("/api/tags")
        loaded = {self.from_host(str(m.get("name"))): int(m.get("context_length") or 0)
                  for m in ps.get("models", []) if isinstance(m, dict)}
        sizes = {self.from_host(str(m.get("name"))): float(m.get("size") or 0) / GB
                 for m in tags.get("models", []) if isinstance(m, dict)}
        return HostReport(host=self.host.name, up=True, loaded=loaded, sizes_gb=sizes)

    async def load(self, model: str) -> int:
        try:
            await self.request_json("POST", "/api/generate",
                                    {"model": self.to_host(model), "keep_alive": "30m"},
                                    limit_s=self.timeouts.first_token_s)
        except HostStatus as exc:
            raise ModelLoadError(self.host.name, f"load {model}: {exc.detail}") from exc
        return 0

    async def unload(self, model: str) -> None:
        await self.request_json("POST", "/api/generate",
                                {"model": self.to_host(model), "keep_alive": 0})
