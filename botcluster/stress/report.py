"""The accounting of a stress run: what was sent, what was seen, and what that adds up to.

Everything here is pure: it takes what the tabs and the observer recorded and returns a
`StressReport`. Rules (the users' own test, CONTRACT.md section 5):
- a reply is an AI message whose `replyTo` is a sent message's id; rows with the same id count
  once (the KV cache can hold one message twice, and clients dedup by id);
- a message is answered exactly once when exactly one reply id was ever seen for it;
- two reply ids for one message is a duplicate, none is missing;
- time to a visible reply runs from the moment the human POST was accepted to the moment a
  poll first saw a reply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

REPLY_BURST_WINDOW_MS = 100


@dataclass(frozen=True)
class SentMessage:
    """One human message of the run, as its tab saw it. Times are unix seconds."""

    id: str
    entity: str
    timestamp_ms: int
    posted_at: float | None  # None: the POST never succeeded before the deadline
    visible_at: float | None  # when the tab first saw its own message in the cache
    heals: int = 0  # add-to-cache calls the tab made for it


@dataclass(frozen=True)
class Sighting:
    """The first time a poll saw a message id, and the row it saw."""

    first_seen: float
    message: Mapping[str, Any]


@dataclass(frozen=True)
class Latency:
    p50_s: float | None
    p95_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class Exercised:
    """What the run really put under load, so that a green result cannot hide an idle race."""

    peak_replies_per_100ms: int
    host_peak_predictions: Mapping[str, int] = field(default_factory=dict)
    host_predictions: Mapping[str, int] = field(default_factory=dict)
    cache_writes: int | None = None  # None: the API is not the embedded board
    overlapping_cache_writes: int | None = None
    server_heals: int | None = None  # add-to-cache calls the board served (tabs and bot)


@dataclass(frozen=True)
class StressReport:
    api_url: str
    messages: int
    entities: tuple[str, ...]
    elapsed_s: float
    replied_once: int
    missing: tuple[str, ...]
    duplicated: Mapping[str, tuple[str, ...]]  # human id -> the reply ids seen for it
    never_visible: tuple[str, ...]
    not_posted: tuple[str, ...]
    latency: Latency
    heals: int
    exercised: Exercised

    @property
    def ok(self) -> bool:
        """The exit criterion: every message got exactly one visible reply."""
        return self.replied_once == self.messages

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["duplicated"] = {k: list(v) for k, v in self.duplicated.items()}
        out["ok"] = self.ok
        return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def peak_within(timestamps_ms: Iterable[int], window_ms: int = REPLY_BURST_WINDOW_MS) -> int:
    """The largest number of timestamps that fall within one window of `window_ms`."""
    ordered = sorted(timestamps_ms)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window_ms:
            start += 1
        best = max(best, end - start + 1)
    return best


def replies_by_message(seen: Mapping[str, Sighting]) -> dict[str, dict[str, Sighting]]:
    """human id -> {reply id -> sighting} over every AI row ever seen (one entry per id)."""
    out: dict[str, dict[str, Sighting]] = {}
    for mid, s in seen.items():
        if s.message.get("message-type") == "AI" and isinstance(s.message.get("replyTo"), str):
            out.setdefault(s.message["replyTo"], {})[mid] = s
    return out


def account(api_url: str, sent: Sequence[SentMessage], seen: Mapping[str, Sighting], *,
            entities: tuple[str, ...], elapsed_s: float, exercised: Exercised) -> StressReport:
    """Add up one run. `seen` is every id any poll saw, first sighting only."""
    replies = replies_by_message(seen)
    missing, once, waits = [], 0, []
    duplicated: dict[str, tuple[str, ...]] = {}
    for m in sent:
        found = replies.get(m.id, {})
        if not found:
            missing.append(m.id)
            continue
        if len(found) > 1:
            duplicated[m.id] = tuple(sorted(found))
        else:
            once += 1
        if m.posted_at is not None:
            waits.append(max(0.0, min(s.first_seen for s in found.values()) - m.posted_at))
    never = [m.id for m in sent if m.visible_at is None and m.id not in seen]
    return StressReport(
        api_url=api_url, messages=len(sent), entities=entities, elapsed_s=elapsed_s,
        replied_once=once, missing=tuple(missing), duplicated=duplicated,
        never_visible=tuple(never),
        not_posted=tuple(m.id for m in sent if m.posted_at is None),
        latency=Latency(percentile(waits, 50), percentile(waits, 95), max(waits, default=None)),
        heals=sum(m.heals for m in sent), exercised=exercised)


def reply_timestamps(seen: Mapping[str, Sighting], sent_ids: set[str]) -> list[int]:
    """The server timestamps of every reply to a sent message (one per reply id)."""
    out = []
    for s in seen.values():
        m = s.message
        ts = m.get("timestamp")
        if m.get("message-type") == "AI" and m.get("replyTo") in sent_ids \
                and isinstance(ts, int | float) and not isinstance(ts, bool):
            out.append(int(ts))
    return out


def render(report: StressReport) -> list[str]:
    """The report as lines for a terminal."""
    lat = report.latency
    ex = report.exercised

    def secs(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}s"

    hosts = ", ".join(f"{h}={n}" for h, n in sorted(ex.host_peak_predictions.items())) or "n/a"
    overlap = "n/a" if ex.overlapping_cache_writes is None else \
        f"{ex.overlapping_cache_writes} of {ex.cache_writes}"
    lines = [
        f"replies visible exactly once: {report.replied_once}/{report.messages}",
        f"missing: {len(report.missing)}  duplicated: {len(report.duplicated)}  "
        f"human messages never visible: {len(report.never_visible)}  "
        f"never posted: {len(report.not_posted)}",
        f"time to a visible reply: p50 {secs(lat.p50_s)}  p95 {secs(lat.p95_s)}  "
        f"max {secs(lat.max_s)}",
        f"heals needed (add-to-cache by the tabs): {report.heals}",
        f"exercised: peak replies within {REPLY_BURST_WINDOW_MS} ms: "
        f"{ex.peak_replies_per_100ms}; peak concurrent predictions per host: {hosts}; "
        f"overlapping cache writes: {overlap}",
    ]
    for mid in report.missing[:10]:
        lines.append(f"  missing reply: {mid}")
    for mid, ids in list(report.duplicated.items())[:10]:
        lines.append(f"  duplicated: {mid} -> {', '.join(ids)}")
    lines.append("OK" if report.ok else "FAILED")
    return lines
