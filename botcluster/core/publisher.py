"""Turns the dispatcher's snapshot into metrics, in the supervisor process (one writer)."""

from __future__ import annotations

from typing import Any

from botcluster import metrics
from botcluster.config.model import Config


class MetricsPublisher:
    def __init__(self, config: Config) -> None:
        self._reclaimed = 0
        self._loaded: set[tuple[str, str]] = set()
        self._loading: set[tuple[str, str]] = set()
        self._waiting: set[str] = set()  # models with ready jobs at the last publish
        self._init_series(config)

    @staticmethod
    def _init_series(config: Config) -> None:
        """Every series a dashboard or alert uses exists from the first scrape."""
        for state in metrics.QUEUE_STATES:
            metrics.queue_depth.labels(state).set(0)
        for e in config.entities:
            for outcome in metrics.JOB_OUTCOMES:
                metrics.jobs.labels(e, outcome)
        wanted = {e.model for e in config.entities.values()}
        for model in wanted:
            metrics.model_queue_ready.labels(model).set(0)
            metrics.model_queue_oldest_wait.labels(model).set(0)
            metrics.model_queue_wait.labels(model)
            metrics.model_load_duration.labels(model)
            for o in metrics.LOAD_OUTCOMES:
                metrics.model_loads_by_model.labels(model, o)
        for h in config.hosts:
            for model in sorted(wanted & set(h.models) if h.models else wanted):
                metrics.model_loaded.labels(h.name, model).set(0)
                metrics.model_loading.labels(h.name, model).set(0)
                metrics.model_loading_time.labels(h.name, model)
            metrics.host_slots.labels(h.name).set(h.slots)
            metrics.host_inflight.labels(h.name).set(0)
            metrics.host_up.labels(h.name).set(0)
            metrics.host_busy.labels(h.name)
            metrics.host_wait.labels(h.name)
            metrics.generation_seconds.labels(h.name)
            metrics.model_load_seconds.labels(h.name)
            metrics.model_evictions.labels(h.name)
            for o in metrics.LLM_OUTCOMES:
                metrics.llm_requests.labels(h.name, o)
            for o in metrics.LOAD_OUTCOMES:
                metrics.model_loads.labels(h.name, o)
        for o in metrics.HEAL_OUTCOMES:
            metrics.heals.labels(o)
        for o in metrics.POLL_OUTCOMES:
            metrics.polls.labels(o)
        for k in metrics.MISS_KINDS:
            metrics.cache_misses.labels(k)
        for r in metrics.SKIP_REASONS:
            metrics.skipped_messages.labels(r)
        for r in metrics.POLL_ERROR_REASONS:
            metrics.poll_errors.labels(r)
        metrics.heal_pending.set(0)
        metrics.heal_oldest_pending.set(0)
        metrics.queue_oldest_job_timestamp.set(0)
        metrics.workers_alive.set(0)
        metrics.claims_reclaimed.inc(0)
        metrics.worker_restarts.inc(0)

    def publish(self, snap: dict[str, Any], workers_alive: int) -> None:
        for state, n in snap["queue"].items():
            metrics.queue_depth.labels(state).set(n)
        metrics.queue_oldest_job_timestamp.set(snap["oldest"] or 0)
        metrics.workers_alive.set(workers_alive)
        for entity, outcome in snap["outcomes"]:
            metrics.jobs.labels(entity, outcome).inc()
        for host, waited, model in snap["waits"]:
            metrics.host_wait.labels(host).observe(waited)
            metrics.model_queue_wait.labels(model).observe(waited)
        for host, model, outcome, seconds in snap.get("loads", []):
            metrics.model_loads_by_model.labels(model, outcome).inc()
            metrics.model_loading_time.labels(host, model).inc(seconds)
            if outcome == "ok":
                metrics.model_load_duration.labels(model).observe(seconds)
        self._publish_models(snap["models"], snap["time"])
        for host, busy in snap["busy"]:
            metrics.host_busy.labels(host).inc(busy)
        if snap["reclaimed"] > self._reclaimed:
            metrics.claims_reclaimed.inc(snap["reclaimed"] - self._reclaimed)
            self._reclaimed = snap["reclaimed"]
        self._publish_hosts(snap["hosts"])

    def _publish_models(self, models: dict[str, dict[str, float]], now: float) -> None:
        for model, q in models.items():
            metrics.model_queue_ready.labels(model).set(q["ready"])
            metrics.model_queue_oldest_wait.labels(model).set(max(0.0, now - q["oldest"]))
        for model in self._waiting - set(models):
            metrics.model_queue_ready.labels(model).set(0)
            metrics.model_queue_oldest_wait.labels(model).set(0)
        self._waiting = set(models)

    def _publish_hosts(self, hosts: dict[str, dict[str, Any]]) -> None:
        loaded_now: set[tuple[str, str]] = set()
        loading_now: set[tuple[str, str]] = set()
        for name, h in hosts.items():
            metrics.host_up.labels(name).set(1 if h["up"] else 0)
            metrics.host_slots.labels(name).set(h["slots"])
            metrics.host_inflight.labels(name).set(h["inflight"])
            loaded_now.update((name, m) for m in h["loaded"])
            loading_now.update((name, m) for m in h["loading"])
        for host, model in loading_now:
            metrics.model_loading.labels(host, model).set(1)
        for host, model in self._loading - loading_now:
            metrics.model_loading.labels(host, model).set(0)
        self._loading = loading_now
        for host, model in loaded_now:
            metrics.model_loaded.labels(host, model).set(1)
        for host, model in self._loaded - loaded_now:
            metrics.model_loaded.labels(host, model).set(0)
        self._loaded = loaded_now
