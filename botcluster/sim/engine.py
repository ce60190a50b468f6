"""One simulated host's model state: catalogue, memory, loads, evictions, TTLs and predictions.

All methods run on one event loop; no locks are needed beyond the FIFO of slots. Durations are
simulated seconds, slept through the injected clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from botcluster.sim.clock import Clock
from botcluster.sim.errors import (
    ContextTooLong,
    Evicted,
    InsufficientMemory,
    LoadAborted,
    ModelNotLoaded,
    RequestLost,
    UnknownModel,
)
from botcluster.sim.pace import Pace
from botcluster.sim.slots import Instance, SlotQueue
from botcluster.sim.spec import HostSpec, ModelSpec
from botcluster.sim.stats import HostStats

log = logging.getLogger(__name__)

STREAM_CHUNKS = 8  # a streamed reply arrives in about this many chunks
ABORT_WINDOW_S = 1.0  # "two different models requested in the same second" (HOSTS.md)


class SimHost:
    """The behaviour of one host, independent of the HTTP dialect that exposes it."""

    def __init__(self, spec: HostSpec, clock: Clock) -> None:
        self.spec = spec
        self.clock = clock
        self.stats = HostStats()
        self.instances: dict[str, Instance] = {}
        self.slots = SlotQueue(spec.slots_per_host, self.stats)
        self.pace = Pace(clock, spec.load_blocks_generation, spec.load_slowdown)
        self._changed = asyncio.Event()
        self._loading: list[tuple[Instance, float]] = []  # loads under way, with start times

    # --- state ------------------------------------------------------------------------------

    @property
    def used_gb(self) -> float:
        return sum(i.size_gb for i in self.instances.values())

    def instances_of(self, key: str) -> list[Instance]:
        return [i for i in self.instances.values() if i.key == key]

    def catalogue(self, key: str) -> ModelSpec:
        model = self.spec.model(key)
        if model is None:
            raise UnknownModel(f'Model "{key}" not found. Please check the model key and that '
                               f"it is downloaded.")
        return model

    def _pulse(self) -> None:
        """Wake everything waiting for memory to free up."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def preload(self) -> None:
        """Load the models marked `loaded` at start, instantly (the host was already running)."""
        for n, model in enumerate(self.spec.models):
            # llama-server serves its one model from the start, whatever the catalogue says
            if model.loaded or (n == 0 and self.spec.flavour == "llamacpp"):
                inst = self._reserve(model, jit=False, ttl_s=None, context_length=None)
                self._finish_load(inst, 0.0, count=False)

    # --- loading ----------------------------------------------------------------------------

    async def instance_for_chat(self, key: str, ttl_s: float | None) -> Instance:
        """The instance a chat request for `key` runs on, JIT-loading it when allowed."""
        model = self.catalogue(key)
        found = self.instances_of(key)
        loaded = [i for i in found if i.loaded]
        if loaded:
            return min(loaded, key=lambda i: i.active + self.slots.waiting_for(i))
        if found and not self.spec.hazards.jit_duplicate_instance:
            await found[0].ready.wait()
            if found[0].id in self.instances:
                return found[0]
            raise Evicted(f'model "{key}" was unloaded while loading')
        if not self.spec.jit:
            raise ModelNotLoaded(f'Model "{key}" is not loaded, and just-in-time loading is off.')
        return await self.load(model.key, jit=True, ttl_s=ttl_s)

    async def load(self, key: str, *, jit: bool = False, ttl_s: float | None = None,
                   context_length: int | None = None) -> Instance:
        """Load a new instance of `key` (a second one is `key:2`); InsufficientMemory if it
        cannot fit even after auto-evict."""
        model = self.catalogue(key)
        try:
            await self._make_room(model)
        except InsufficientMemory:
            self.stats.load_failures += 1
            raise
        inst = self._reserve(model, jit=jit, ttl_s=ttl_s, context_length=context_length)
        started = self.clock.now()
        self._collide(inst, started)
        entry = (inst, started)
        self._loading.append(entry)
        self.pace.load_started()
        try:
            await self.clock.sleep(model.size_gb / self.spec.load_gb_per_s)
        finally:
            self._loading.remove(entry)
            self.pace.load_ended()
        if self.instances.get(inst.id) is not inst:
            raise Evicted(f'model "{inst.id}" was unloaded while loading')
        if inst.doomed:
            self._abort(inst)
        self._finish_load(inst, self.clock.now() - started)
        return inst

    def _collide(self, inst: Instance, started: float) -> None:
        """The concurrent-loads hazard: a load of another model that began less than
        ABORT_WINDOW_S ago dooms both."""
        if not self.spec.hazards.concurrent_loads_abort:
            return
        for other, other_started in self._loading:
            if other.key != inst.key and started - other_started < ABORT_WINDOW_S:
                inst.doomed = other.doomed = True

    def _abort(self, inst: Instance) -> None:
        del self.instances[inst.id]
        self.stats.load_failures += 1
        self.stats.aborted_loads += 1
        inst.ready.set()  # requests waiting for this instance find it gone
        self._pulse()
        log.debug("%s: load of %s aborted (concurrent loads)", self.spec.name, inst.id)
        raise LoadAborted(inst.key)

    def _reserve(self, model: ModelSpec, *, jit: bool, ttl_s: float | None,
                 context_length: int | None) -> Instance:
        n = 1
        while (f"{model.key}:{n}" if n > 1 else model.key) in self.instances:
            n += 1
        if n > 1:
            self.stats.duplicate_instances += 1
        inst = Instance(
            id=f"{model.key}:{n}" if n > 1 else model.key, model=model,
            parallel=self.spec.slots_per_model,
            context_length=context_length or model.context_length, jit=jit,
            ttl_s=(ttl_s or self.spec.default_ttl_s) if jit else ttl_s,
            last_used=self.clock.now())
        self.instances[inst.id] = inst
        return inst

    def _finish_load(self, inst: Instance, seconds: float, count: bool = True) -> None:
        inst.loaded = True
        inst.fresh = count  # a host that starts with the model loaded has served before
        inst.last_used = self.clock.now()
        inst.ready.set()
        if not count:
            return
        self.stats.loads += 1
        self.stats.load_seconds += seconds
        self.stats.model_loads[inst.key] += 1
        log.debug("%s: loaded %s in %.1fs (simulated)", self.spec.name, inst.id, seconds)
        self.slots.grant()

    async def _make_room(self, model: ModelSpec) -> None:
        """Evict least recently used models until `model` fits, waiting for busy ones to idle.

        Idle instances go first. A busy one is cut only with the `evict_running` hazard; else we
        wait for it to finish. Fails at once when nothing could ever make enough room.
        """
        budget = self.spec.memory_gb
        while self.used_gb + model.size_gb > budget:
            free = budget - self.used_gb
            if model.size_gb > budget or not self.spec.auto_evict:
                raise InsufficientMemory(model.key, model.size_gb, max(0.0, free))
            loaded = sorted((i for i in self.instances.values() if i.loaded),
                            key=lambda i: i.last_used)
            idle = [i for i in loaded if self._idle(i)]
            if idle:
                self.unload(idle[0].id, reason="evict")
            elif loaded and self.spec.hazards.evict_running:
                self.unload(loaded[0].id, reason="evict")
            elif not self.instances:
                raise InsufficientMemory(model.key, model.size_gb, max(0.0, free))
            else:
                await self._changed.wait()

    def _idle(self, inst: Instance) -> bool:
        return inst.active == 0 and self.slots.waiting_for(inst) == 0

    def unload(self, instance_id: str, reason: str = "api") -> Instance:
        """Remove an instance now; its running generations are cut, its queue fails."""
        inst = self.instances.get(instance_id)
        if inst is None:
            raise UnknownModel(f'No loaded model instance with id "{instance_id}".')
        del self.instances[instance_id]
        inst.unloaded = True
        inst.ready.set()
        running = len(inst.running)
        for task in inst.running:
            task.cancel()  # generate() turns this into Evicted
        self.slots.fail_waiters(inst)
        if reason == "evict":
            self.stats.evictions += 1
            self.stats.evicted_running += 1 if running else 0
        elif reason == "ttl":
            self.stats.ttl_unloads += 1
        else:
            self.stats.unloads += 1
        log.debug("%s: unloaded %s (%s, %d running)", self.spec.name, instance_id, reason, running)
        self._pulse()
        return inst

    def expire_idle(self) -> None:
        """Unload instances idle for longer than their TTL."""
        now = self.clock.now()
        for inst in list(self.instances.values()):
            if (inst.loaded and inst.ttl_s is not None and self._idle(inst)
                    and now - inst.last_used > inst.ttl_s):
                self.unload(inst.id, reason="ttl")

    # --- predictions --------------------------------------------------------------------------

    def check_context(self, inst: Instance, prompt_tokens: int) -> None:
        if prompt_tokens > inst.context_length:
            raise ContextTooLong(prompt_tokens, inst.context_length)

    async def generate(self, inst: Instance, n_tokens: int,
                       drop_after: int | None = None) -> AsyncIterator[int]:
        """Hold a slot and yield token counts as they are generated (about STREAM_CHUNKS chunks).

        Raises Evicted when the instance is unloaded meanwhile, RequestLost for the first request
        on a fresh instance under that hazard. `drop_after`: stop early after that many tokens.
        """
        queued_at = self.clock.now()
        await self.slots.acquire(inst, queued_at)
        started = self.clock.now()
        self.stats.wait_seconds += started - queued_at
        self.stats.start_prediction()
        task = asyncio.current_task()
        assert task is not None
        inst.running.add(task)
        try:
            if inst.fresh:
                inst.fresh = False
                if self.spec.hazards.lose_first_request:
                    raise RequestLost(f'request to freshly loaded "{inst.id}" was lost')
            # work to absolute deadlines, so that timer overshoot does not accumulate; a load
            # on the host may slow or stop it (Pace)
            deadline = await self.pace.work(started, self.spec.ttft_s)
            step = max(1, -(-n_tokens // STREAM_CHUNKS))
            done = 0
            while done < n_tokens:
                chunk = min(step, n_tokens - done)
                deadline = await self.pace.work(deadline, chunk / self.spec.tokens_per_s)
                done += chunk
                self.stats.tokens_generated += chunk
                yield chunk
                if drop_after is not None and done >= drop_after:
                    return
        except asyncio.CancelledError:
            if not inst.unloaded:
                raise
            task.uncancel()  # the cancel was ours: the model was unloaded under the request
            raise Evicted(f'model "{inst.id}" was unloaded during generation') from None
        finally:
            inst.running.discard(task)
            inst.last_used = self.clock.now()
            self.stats.end_prediction(self.clock.now() - started)
            if inst.unloaded:
                self.slots.active -= 1
                self.slots.grant()
            else:
                self.slots.release(inst)
            self._pulse()
