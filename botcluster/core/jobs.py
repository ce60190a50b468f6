"""What travels between the supervisor, the dispatcher and the workers: jobs, leases, claims.

All of it is plain picklable data: it crosses the multiprocessing manager's connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["replied", "skipped", "failed", "dead_lettered", "lost_claim"]

# Ageing: a waiting job gains one priority point every AGEING_S seconds. Because every job ages
# at the same rate, the order between two jobs never changes with time, so a job's rank is a
# constant: priority - enqueued_at / AGEING_S (higher first). A low-priority job still wins
# over newer high-priority ones once it has waited long enough, so nothing starves.
AGEING_S = 10.0
# A rank is a float; a priority from anywhere (an old journal line, a server that sends 10**400)
# is clamped into this range first, so that no rank can overflow or be NaN.
MAX_RANK_PRIORITY = 1_000_000


@dataclass
class Job:
    """One human message that needs one reply."""

    message_id: str
    entity: str
    model: str
    priority: int
    enqueued_at: float  # wall-clock seconds, for metrics and ageing
    message: Any  # botcluster.comments.Message (kept opaque here: the dispatcher never reads it)
    message_ts_ms: int = 0
    attempts: int = 0
    crashes: int = 0  # leases lost with a dead worker or an expired lease
    host_downs: int = 0  # hosts that went down while running it (probes of a down host aside)
    reply_id: str | None = None  # chosen before the first POST, kept across retries
    server_claimed: bool = False  # this bot already holds the claim on the server
    reply_posted: bool = False  # the server acknowledged the reply's POST (never post again)
    # A POST of reply_id may have reached the server: a worker began one, or a restart found
    # the id in the journal. Only then is the record checked before generating again.
    post_attempted: bool = False
    last_error: str = ""
    not_before: float = 0.0  # retry backoff or rate-limit deferral (wall clock)

    @property
    def rank(self) -> float:
        p = self.priority
        if isinstance(p, bool) or not isinstance(p, int | float) or p != p:
            p = 0
        p = max(-MAX_RANK_PRIORITY, min(MAX_RANK_PRIORITY, p))
        return float(p) - self.enqueued_at / AGEING_S


@dataclass(frozen=True)
class Lease:
    """A claim on a job together with a slot on a host, valid until `deadline`."""

    lease_id: str
    message_id: str
    worker_id: str
    host: str
    model: str
    deadline: float
    load: bool = False  # the worker must load `model` on `host` before generating
    context_length: int = 0  # the model's loaded context per request on that host (0 unknown)
    evict: tuple[str, ...] = ()  # models the worker must unload first to make room
    granted_at: float = 0.0
    pid: int = 0  # the worker process it was granted to (0: unknown, e.g. in-process tests)
    waited_s: float = 0.0  # how long the job waited runnable before a slot freed up
    probe: bool = False  # granted on a host marked down: its half-open probe


@dataclass(frozen=True)
class Claim:
    job: Job
    lease: Lease


@dataclass
class PostedReply:
    """A reply the server acknowledged, not yet seen in its recent cache."""

    reply_id: str
    message_id: str
    posted_at: float
    entity: str = ""
    attempts: int = 0
    next_heal_at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
