"""Where jobs wait: ready heaps per model, a deferred heap, and a bounded memory of done ids.

Not thread-safe: the dispatcher holds its lock around every call.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Literal

from botcluster.core.jobs import Job

State = Literal["ready", "deferred", "claimed"]


class JobStore:
    """Jobs by message id, each in exactly one state.

    Heaps use lazy deletion: an entry is live only while its job is still in that state with the
    same sequence number, so moving a job never searches a heap.
    """

    def __init__(self, remember: int = 100_000) -> None:
        self.jobs: dict[str, Job] = {}
        self.state: dict[str, State] = {}
        self._seq: dict[str, int] = {}
        self._ready: dict[str, list[tuple[float, int, str]]] = {}  # model -> heap
        self._ready_count: dict[str, int] = {}
        self._deferred: list[tuple[float, int, str]] = []
        self._counter = itertools.count()
        self._done: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    # --- membership -------------------------------------------------------------------------

    def known(self, message_id: str) -> bool:
        return message_id in self.jobs or message_id in self._done

    def remember_done(self, message_ids: Iterable[str]) -> None:
        for mid in message_ids:
            self._done[mid] = None
            self._done.move_to_end(mid)
        while len(self._done) > self._remember:
            self._done.popitem(last=False)

    # --- moves --------------------------------------------------------------------------------

    def add(self, job: Job, now: float) -> None:
        self.jobs[job.message_id] = job
        self.make_waiting(job, now)

    def make_waiting(self, job: Job, now: float) -> None:
        """Ready if it may run now, else deferred until `job.not_before`."""
        if job.not_before > now:
            self._put_deferred(job)
        else:
            self._put_ready(job)

    def defer(self, job: Job, until: float) -> None:
        self._leave(job)
        job.not_before = until
        self._put_deferred(job)

    def mark_claimed(self, job: Job) -> None:
        self._leave(job)
        self.state[job.message_id] = "claimed"

    def finish(self, message_id: str, remember: bool = True) -> Job | None:
        """Drop the job; `remember` it as answered so it is never queued again (dedup)."""
        job = self.jobs.pop(message_id, None)
        if job is not None:
            self._leave(job)
            self.state.pop(message_id, None)
            self._seq.pop(message_id, None)
        if remember:
            self.remember_done([message_id])
        return job

    def unforget(self, message_id: str) -> None:
        """It may be queued again (its end did not reach the server)."""
        self._done.pop(message_id, None)

    def promote(self, now: float) -> None:
        """Move deferred jobs whose time has come to their ready heap."""
        while self._deferred and self._deferred[0][0] <= now:
            _, seq, mid = heapq.heappop(self._deferred)
            if self._live(mid, seq, "deferred"):
                self._put_ready(self.jobs[mid])

    # --- reading ------------------------------------------------------------------------------

    def ready_models(self) -> Iterator[str]:
        return (m for m, n in self._ready_count.items() if n > 0)

    def ready_counts(self) -> dict[str, int]:
        """Ready jobs per model (a copy), for models with any."""
        return dict(self._ready_count)

    def ready_count(self, model: str) -> int:
        return self._ready_count.get(model, 0)

    def head(self, model: str) -> Job | None:
        """The best ready job for `model` (highest rank, then oldest), or None."""
        heap = self._ready.get(model)
        while heap:
            _, seq, mid = heap[0]
            if self._live(mid, seq, "ready"):
                return self.jobs[mid]
            heapq.heappop(heap)
        return None

    def next_deferred_at(self) -> float | None:
        while self._deferred:
            t, seq, mid = self._deferred[0]
            if self._live(mid, seq, "deferred"):
                return t
            heapq.heappop(self._deferred)
        return None

    def counts(self) -> dict[str, int]:
        return self.summary()[0]

    def oldest_waiting(self) -> float | None:
        return self.summary()[1]

    def ready_by_model(self) -> dict[str, dict[str, float]]:
        return self.summary()[2]

    def summary(self) -> tuple[dict[str, int], float | None, dict[str, dict[str, float]]]:
        """In one pass over the jobs: how many in each state; the enqueue time of the oldest
        one not claimed; and per model with ready jobs, how many and the oldest's enqueue
        time."""
        counts = {"ready": 0, "deferred": 0, "claimed": 0}
        oldest: float | None = None
        models: dict[str, dict[str, float]] = {}
        for mid, state in self.state.items():
            counts[state] += 1
            if state == "claimed":
                continue
            job = self.jobs[mid]
            if oldest is None or job.enqueued_at < oldest:
                oldest = job.enqueued_at
            if state == "ready":
                entry = models.setdefault(job.model, {"ready": 0, "oldest": job.enqueued_at})
                entry["ready"] += 1
                entry["oldest"] = min(entry["oldest"], job.enqueued_at)
        return counts, oldest, models

    # --- internals ----------------------------------------------------------------------------

    def _put_ready(self, job: Job) -> None:
        seq = self._stamp(job, "ready")
        heapq.heappush(self._ready.setdefault(job.model, []), (-job.rank, seq, job.message_id))
        self._ready_count[job.model] = self._ready_count.get(job.model, 0) + 1

    def _put_deferred(self, job: Job) -> None:
        seq = self._stamp(job, "deferred")
        heapq.heappush(self._deferred, (job.not_before, seq, job.message_id))

    def _stamp(self, job: Job, state: State) -> int:
        seq = next(self._counter)
        self._seq[job.message_id] = seq
        self.state[job.message_id] = state
        return seq

    def _leave(self, job: Job) -> None:
        if self.state.get(job.message_id) == "ready":
            self._ready_count[job.model] -= 1
            if self._ready_count[job.model] == 0:
                del self._ready_count[job.model]
                self._ready.pop(job.model, None)
        self._seq[job.message_id] = -1  # invalidates every heap entry of this job

    def _live(self, mid: str, seq: int, state: State) -> bool:
        return self._seq.get(mid) == seq and self.state.get(mid) == state
