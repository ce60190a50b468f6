"""The Prometheus metrics of botcluster (ARCHITECTURE.md "Metrics"), for multiprocess mode.

Import this module only after `botcluster.core.metrics_dir.prepare()` has set
PROMETHEUS_MULTIPROC_DIR: prometheus_client reads it at import time, and a process that imports
it earlier writes its values into its own memory where no scrape can see them.

Gauge modes: values one process owns (the dispatcher's queue and host view, the supervisor's
pool and poll state) use `livemostrecent`; counts that several processes add to use `livesum`.
Both "live" modes drop a dead process's contribution when `mark_process_dead(pid)` is called.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "botcluster_"

# LLM calls and model loads can take minutes: the default buckets stop at 10 s.
LONG_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
WAIT_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

JOB_OUTCOMES = ("replied", "skipped", "failed", "dead_lettered", "lost_claim")
QUEUE_STATES = ("ready", "deferred", "claimed")
LLM_OUTCOMES = ("ok", "error", "timeout")
LOAD_OUTCOMES = ("ok", "error", "oom")
HEAL_OUTCOMES = ("ok", "error", "not_found", "absent", "beyond_window")
POLL_OUTCOMES = ("ok", "error")
MISS_KINDS = ("reply",)
# The reasons of botcluster.comments.validate, the labels of skipped_messages.
SKIP_REASONS = ("not_json", "bad_shape", "not_object", "missing_field", "wrong_type", "bad_value",
                "oversize_text", "oversize_body", "invalid_utf8", "oversize_message")
# The labels of poll_errors (core/poller.py poll_error_reason): a body it cannot read, by skip
# reason, or the kind of failure.
POLL_ERROR_REASONS = (*SKIP_REASONS, "unavailable", "rejected", "error")

queue_depth = Gauge(
    PREFIX + "queue_depth", "Jobs in the claim queue by state.", ["state"],
    multiprocess_mode="livemostrecent",
)
queue_oldest_job_timestamp = Gauge(
    PREFIX + "queue_oldest_job_timestamp_seconds",
    "Unix time the oldest waiting job was enqueued (0 when none waits).",
    multiprocess_mode="livemostrecent",
)
jobs = Counter(PREFIX + "jobs", "Jobs finished, by entity and outcome.", ["entity", "outcome"])
claims_reclaimed = Counter(
    PREFIX + "claims_reclaimed", "Leases that expired or died with their worker."
)
host_slots = Gauge(
    PREFIX + "host_slots", "Prediction slots of a host.", ["host"],
    multiprocess_mode="livemostrecent",
)
host_inflight = Gauge(
    PREFIX + "host_inflight", "Slots of a host leased to running jobs.", ["host"],
    multiprocess_mode="livemostrecent",
)
host_wait = Histogram(
    PREFIX + "host_wait_seconds",
    "Serialization: time a runnable job waited for a slot on the host it got.",
    ["host"], buckets=WAIT_BUCKETS,
)
host_busy = Counter(
    PREFIX + "host_busy_seconds", "Slot-seconds in use (utilization = rate / slots).", ["host"]
)
host_up = Gauge(
    PREFIX + "host_up", "1 when the bot sees the host healthy.", ["host"],
    multiprocess_mode="livemostrecent",
)
model_loaded = Gauge(
    PREFIX + "model_loaded", "1 when the bot believes the model is loaded on the host.",
    ["host", "model"], multiprocess_mode="livemostrecent",
)
model_loads = Counter(PREFIX + "model_loads", "Model loads by outcome.", ["host", "outcome"])
model_load_seconds = Histogram(
    PREFIX + "model_load_seconds", "Time to load a model.", ["host"], buckets=LONG_BUCKETS
)
model_evictions = Counter(PREFIX + "model_evictions", "Models unloaded to make room.", ["host"])
generation_seconds = Histogram(
    PREFIX + "generation_seconds", "LLM call time.", ["host"], buckets=LONG_BUCKETS
)
llm_requests = Counter(PREFIX + "llm_requests", "LLM calls by outcome.", ["host", "outcome"])
heal_pending = Gauge(
    PREFIX + "heal_pending", "Posted replies not yet seen in the server's recent cache.",
    multiprocess_mode="livemostrecent",
)
heal_oldest_pending = Gauge(
    PREFIX + "heal_oldest_pending_timestamp_seconds",
    "When the oldest reply not yet seen in the recent cache was posted; 0 when none is.",
    multiprocess_mode="livemostrecent",
)
cache_misses = Counter(
    PREFIX + "cache_misses", "Verifications that did not find a posted message.", ["kind"]
)
heals = Counter(PREFIX + "heals", "add-to-cache calls by outcome.", ["outcome"])
finished_claims_held = Gauge(
    PREFIX + "finished_claims_held",
    "Messages this bot finished that the server still shows processing under its workers "
    "(DO: dead letters, which that dialect cannot mark failed).",
    multiprocess_mode="livemostrecent",
)
heal_seconds = Histogram(
    PREFIX + "heal_seconds", "Time from posting a reply to seeing it in the cache.",
    buckets=LONG_BUCKETS,
)
reply_seconds = Histogram(
    PREFIX + "reply_seconds", "Time from the human message's timestamp to the reply posted.",
    buckets=LONG_BUCKETS,
)
poll_last_success = Gauge(
    PREFIX + "poll_last_success_timestamp_seconds", "Unix time of the last successful poll.",
    multiprocess_mode="livemostrecent",
)
polls = Counter(PREFIX + "polls", "Polls of the comments API by outcome.", ["outcome"])
poll_errors = Counter(
    PREFIX + "poll_errors", "Failed polls by reason (a skip reason, unavailable, rejected).",
    ["reason"],
)
skipped_messages = Counter(
    PREFIX + "skipped_messages", "Messages from the server skipped as invalid, by reason.",
    ["reason"],
)
workers_alive = Gauge(
    PREFIX + "workers_alive", "Worker processes alive.", multiprocess_mode="livemostrecent"
)
worker_restarts = Counter(PREFIX + "worker_restarts", "Worker processes replaced after dying.")

# Per model: where the queue waits, what loading costs (ARCHITECTURE.md "Scheduling").
model_queue_wait = Histogram(
    PREFIX + "model_queue_wait_seconds",
    "Time a runnable job waited before it got a host slot or a load, by model.",
    ["model"], buckets=WAIT_BUCKETS,
)
model_queue_ready = Gauge(
    PREFIX + "model_queue_ready", "Jobs ready to run, by model.", ["model"],
    multiprocess_mode="livemostrecent",
)
model_queue_oldest_wait = Gauge(
    PREFIX + "model_queue_oldest_wait_seconds",
    "How long the oldest ready job of a model has waited (0: none ready).", ["model"],
    multiprocess_mode="livemostrecent",
)
model_loads_by_model = Counter(
    PREFIX + "model_loads_by_model", "Model loads that ended, by model and outcome.",
    ["model", "outcome"],
)
model_load_duration = Histogram(
    PREFIX + "model_load_duration_seconds",
    "Time from granting a load to its end (unloads first, then the load), by model.",
    ["model"], buckets=LONG_BUCKETS,
)
model_loading = Gauge(
    PREFIX + "model_loading", "1 while the model is being loaded on the host.",
    ["host", "model"], multiprocess_mode="livemostrecent",
)
model_loading_time = Counter(
    PREFIX + "model_loading_seconds", "Seconds spent in the loading state, by host and model.",
    ["host", "model"],
)
