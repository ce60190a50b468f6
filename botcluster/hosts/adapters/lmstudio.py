"""LM Studio: `/api/v1/models` (0.4+), else `/api/v0/models` `state`, else JIT-only `/v1/models`.

Loads go through `POST /api/v1/models/load` where the host has it; older hosts load just in
time inside the first chat request (the router then gives that request the load's timeout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botcluster.core.cluster import HostReport
from botcluster.errors import HostDown, ModelLoadError, OutOfMemory
from botcluster.hosts.adapters.base import GB, OOM_MARKERS, HostAdapter, HostStatus


class LMStudioAdapter(HostAdapter):
    kind = "lmstudio"
    can_load = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api = "v1"  # which state API the host speaks; learnt on first use
        self._instances: dict[str, list[str]] = {}

    async def state(self) -> HostReport:
        for api in ("v1", "v0", "openai"):
            try:
                report = await self._state(api)
            except HostStatus as exc:
                if exc.status in (404, 405):
                    continue
                raise
            self._api = api
            self.can_load = api == "v1"
            return report
        raise HostDown(self.host.name, "no model listing endpoint answered")

    async def _state(self, api: str) -> HostReport:
        if api == "v1":
            return self._from_v1(await self.get_json("/api/v1/models"))
        if api == "v0":
            return self._from_v0(await self.get_json("/api/v0/models"))
        report = await super().state()
        # JIT on: /v1/models lists what can be requested, not what is loaded.
        return HostReport(host=report.host, up=True, loaded={}, serves_any=True,
                          loads_in_chat=True)

    def _from_v1(self, data: dict[str, Any]) -> HostReport:
        """Loaded models with their instance's context and `parallel` slots. `parallel` is one
        instance's concurrent predictions (LM Studio 0.4), never the host's capacity: several
        instances generate at once under a host-wide limit only the operator knows."""
        loaded: dict[str, int] = {}
        sizes: dict[str, float] = {}
        parallel: dict[str, int] = {}
        self._instances = {}
        for m in _items(data.get("models")):
            name = self.from_host(str(m.get("key", "")))
            if isinstance(m.get("size_bytes"), int | float):
                sizes[name] = float(m["size_bytes"]) / GB
            instances = list(_items(m.get("loaded_instances")))
            if not instances:
                continue
            loaded[name] = int(_config(instances[0]).get("context_length") or 0)
            # Two instances of one model (a JIT duplicate) each have their own slots.
            parallel[name] = sum(int(_config(i).get("parallel") or 0) for i in instances)
            self._instances[name] = [str(i.get("id")) for i in instances if i.get("id")]
        return HostReport(host=self.host.name, up=True, loaded=loaded, sizes_gb=sizes,
                          parallel={m: n for m, n in parallel.items() if n > 0})

    def _from_v0(self, data: dict[str, Any]) -> HostReport:
        loaded = {self.from_host(str(m.get("id"))): int(m.get("loaded_context_length") or 0)
                  for m in _items(data.get("data")) if m.get("state") == "loaded"}
        return HostReport(host=self.host.name, up=True, loaded=loaded, loads_in_chat=True)

    async def load(self, model: str) -> int:
        if self._api != "v1":
            return 0  # no REST load: the chat request itself loads it (JIT)
        try:
            data = await self.request_json("POST", "/api/v1/models/load",
                                           {"model": self.to_host(model)},
                                           limit_s=self.timeouts.first_token_s)
        except HostStatus as exc:
            if exc.status in (404, 405):
                # Before LM Studio 0.4 there is no REST load: the first chat request loads it.
                self._api, self.can_load = "v0", False
                return 0
            if any(k in exc.body.lower() for k in OOM_MARKERS):
                raise OutOfMemory(self.host.name, exc.body[:300]) from exc
            raise ModelLoadError(self.host.name, f"load {model}: {exc.detail}") from exc
        instance = str(data.get("instance_id") or self.to_host(model))
        self._instances.setdefault(model, []).append(instance)
        report = self._from_v1(await self.get_json("/api/v1/models"))
        return report.loaded.get(model, 0)

    async def unload(self, model: str) -> None:
        if self._api != "v1":
            return
        for instance in self._instances.pop(model, [self.to_host(model)]):
            try:
                await self.request_json("POST", "/api/v1/models/unload",
                                        {"instance_id": instance})
            except HostStatus as exc:
                if exc.status != 404:  # already gone is what we wanted
                    raise


def _config(instance: Mapping[str, Any]) -> dict[str, Any]:
    config = instance.get("config")
    return config if isinstance(config, dict) else {}


def _items(v: object) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, Mapping)] if isinstance(v, list) else []  # type: ignore[misc]
