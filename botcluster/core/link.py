"""The async face of the dispatcher for a worker's event loop.

Manager proxy calls block on a socket, so each runs in a thread (each thread gets its own
connection to the manager). The same class wraps an in-process `Dispatcher` in tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

from botcluster.core.jobs import Claim, Outcome, PostedReply


class DispatcherLink:
    def __init__(self, dispatcher: Any) -> None:
        self.d = dispatcher

    async def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.d, name), *args, **kwargs)

    async def claim(self, worker_id: str, wait_s: float, pid: int = 0) -> Claim | None:
        result: Claim | None = await self._call("claim", worker_id, wait_s, pid)
        return result

    async def heartbeat(self, worker_id: str, pid: int = 0) -> int:
        return int(await self._call("heartbeat", worker_id, pid))

    async def reply_id_for(self, message_id: str, proposal: str) -> str:
        return str(await self._call("reply_id_for", message_id, proposal))

    async def unforget(self, message_id: str) -> None:
        await self._call("unforget", message_id)

    async def post_permit(self, entity_id: str) -> float:
        return float(await self._call("post_permit", entity_id))

    async def note(self, lease_id: str, **kwargs: Any) -> bool:
        return bool(await self._call("note", lease_id, **kwargs))

    async def load_finished(self, lease_id: str, ok: bool, context_length: int = 0,
                            out_of_memory: bool = False) -> None:
        await self._call("load_finished", lease_id, ok, context_length, out_of_memory)

    async def generation_done(self, lease_id: str) -> None:
        await self._call("generation_done", lease_id)

    async def ack(self, lease_id: str, outcome: Outcome, posted: PostedReply | None = None,
                  message_id: str | None = None) -> None:
        await self._call("ack", lease_id, outcome, posted, message_id)

    async def release(self, lease_id: str, error: str, *, count: bool = True,
                      delay_s: float | None = None, host_down: bool = False) -> Any:
        return await self._call("release", lease_id, error, count=count, delay_s=delay_s,
                                host_down=host_down)

    async def host_failed(self, host: str, error: str) -> None:
        await self._call("host_failed", host, error)

    async def host_ok(self, host: str) -> None:
        await self._call("host_ok", host)

    async def model_gone(self, host: str, model: str) -> None:
        await self._call("model_gone", host, model)
