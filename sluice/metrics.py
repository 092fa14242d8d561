"""Prometheus metrics: what the workers count as they run, and what the fleet looks like.

Two halves:

* Counters and histograms that worker processes update (job outcomes, dead-letter inflow,
  retries, deliveries per job, queue wait and run time, LLM tokens and cost, validation
  failures, heartbeats). They are filled from Celery's task signals, so task code does not
  call them, and they are safe with prefork children: ``sluice worker`` sets
  ``PROMETHEUS_MULTIPROC_DIR`` (see :mod:`sluice.multiprocess_metrics`) and the
  :class:`WorkerMetricsExporter` bootstep serves the sum of every process's values on
  ``SLUICE_WORKER_METRICS_PORT``.
* :class:`FleetCollector`, read at scrape time by the API's ``/metrics``: jobs by kind and
  status and the dead-letter queue by reason (from the store), queue depth and the age of
  the oldest message per queue (from Redis), the kill switch, and budget windows.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import structlog
from celery import bootsteps
from celery.signals import before_task_publish, task_postrun, task_prerun
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from schemas.job import DEAD_LETTERED, DeadReason, JobStatus
from sluice.routing import Queue
from sluice.settings import Settings, get_settings

log = structlog.get_logger(__name__)

PUBLISHED_AT_HEADER = "sluice_published_at"
HEARTBEAT_SECONDS = 10.0
# Kombu's Redis transport keeps priorities 3, 6 and 9 in sibling lists.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)
DELIVERY_BUCKETS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20)
SECONDS_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

JOB_OUTCOMES = Counter(
    "sluice_job_outcomes_total", "Task runs by the state they left the job in.",
    ["kind", "status"],
)
DEAD_LETTERED_TOTAL = Counter(
    "sluice_dead_lettered_total", "Jobs sent to the dead-letter queue (its inflow).",
    ["kind", "reason"],
)
RETRIES = Counter(
    "sluice_retries_total", "Celery retries: transient faults, and waits for LLM budgets.",
    ["kind"],
)
DELIVERIES = Histogram(
    "sluice_job_deliveries", "Broker deliveries a job took, observed when it ends.",
    ["kind"], buckets=DELIVERY_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "sluice_queue_wait_seconds", "From publish (or due time) to the start of the task.",
    ["kind", "queue"], buckets=SECONDS_BUCKETS,
)
RUN_TIME = Histogram(
    "sluice_job_run_seconds", "Time one task run took.", ["kind", "queue"],
    buckets=SECONDS_BUCKETS,
)
LLM_TOKENS = Counter("sluice_llm_tokens_total", "Tokens the LLM reported.", ["model", "type"])
LLM_COST = Counter(
    "sluice_llm_cost_total", "Cost of LLM calls at the configured prices.", ["model"]
)
LLM_CALLS_REFUSED = Counter(
    "sluice_llm_calls_refused_total", "LLM calls held back by a budget or the kill switch.",
    ["reason"],
)
VALIDATION_FAILURES = Counter(
    "sluice_validation_failures_total", "LLM outputs that failed schema validation.",
    ["schema", "signature"],
)
HEARTBEAT = Gauge(
    "sluice_worker_heartbeat_timestamp_seconds", "Last heartbeat of a worker node.",
    ["worker"], multiprocess_mode="max",
)

# (task id, retries) -> start: a retry keeps its task id and may start before we finish.
_started: dict[tuple[str, int], float] = {}
_started_lock = threading.Lock()


def observe_llm_usage(model: str, prompt_tokens: int, completion_tokens: int, cost: float) -> None:
    LLM_TOKENS.labels(model=model, type="prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(model=model, type="completion").inc(completion_tokens)
    LLM_COST.labels(model=model).inc(cost)


def observe_validation_failure(schema: str, signature: str) -> None:
    VALIDATION_FAILURES.labels(schema=schema, signature=signature[:120]).inc()


# ---- worker side: Celery signals ------------------------------------------------------


def _stamp_publish_time(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Every message carries its publish time: queue age and wait are measured from it."""
    if headers is not None:
        headers[PUBLISHED_AT_HEADER] = time.time()


def _due_time(request: Any) -> float | None:
    published = getattr(request, PUBLISHED_AT_HEADER, None)
    if published is None:
        published = (getattr(request, "headers", None) or {}).get(PUBLISHED_AT_HEADER)
    if published is None:
        return None
    due = float(published)
    eta = getattr(request, "eta", None)
    if eta:
        with contextlib.suppress(ValueError):
            due = max(due, datetime.fromisoformat(str(eta)).timestamp())
    return due


def _queue_of(request: Any) -> str:
    info = getattr(request, "delivery_info", None) or {}
    return str(info.get("routing_key") or "unknown")


def _task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task is None or task_id is None:
        return
    now = time.time()
    with _started_lock:
        _started[(task_id, int(task.request.retries or 0))] = now
    due = _due_time(task.request)
    if due is not None:
        QUEUE_WAIT.labels(kind=task.name, queue=_queue_of(task.request)).observe(
            max(0.0, now - due)
        )


def _task_finished(
    task_id: str | None = None, task: Any = None, args: Any = None, state: str | None = None,
    **_: Any,
) -> None:
    if task is None or task_id is None:
        return
    with _started_lock:
        started = _started.pop((task_id, int(task.request.retries or 0)), None)
    if started is None or not args or not hasattr(task, "run_job"):
        return
    RUN_TIME.labels(kind=task.name, queue=_queue_of(task.request)).observe(time.time() - started)
    if state == "RETRY":
        # Read nothing: the retry may already be running elsewhere and have moved the job.
        RETRIES.labels(kind=task.name).inc()
        JOB_OUTCOMES.labels(kind=task.name, status=JobStatus.RETRYING.value).inc()
        return
    try:
        from sluice.stores import get_store

        job = get_store().get(str(args[0]))
    except Exception as exc:  # metrics never fail a task
        log.debug("metrics could not read the job", error=str(exc))
        return
    # Only count what this run did: a dropped stale delivery finds a job changed long ago.
    if job.updated_at.timestamp() < started or not (job.terminal or job.status is JobStatus.DEAD):
        return
    DELIVERIES.labels(kind=job.kind).observe(job.deliveries)
    if job.status is JobStatus.DEAD:
        count_dead_letter(job.kind, job.reason)
    else:
        JOB_OUTCOMES.labels(kind=job.kind, status=job.status.value).inc()


def count_dead_letter(kind: str, reason: DeadReason | None) -> None:
    JOB_OUTCOMES.labels(kind=kind, status=JobStatus.DEAD.value).inc()
    DEAD_LETTERED_TOTAL.labels(kind=kind, reason=reason.value if reason else "unknown").inc()


# Connected strongly: these live as long as the process.
before_task_publish.connect(_stamp_publish_time, weak=False)
task_prerun.connect(_task_started, weak=False)
task_postrun.connect(_task_finished, weak=False)


def worker_registry() -> CollectorRegistry:
    """What the worker exporter serves: every process's values, summed."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY

        return REGISTRY
    return registry


class WorkerMetricsExporter(bootsteps.StartStopStep):  # type: ignore[misc]
    """Serves ``/metrics`` from the worker's main process and beats a heartbeat gauge."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._timer_entry: Any = None
        self._server: Any = None

    def start(self, worker: Any) -> None:
        settings = get_settings()
        hostname = str(worker.hostname)

        def beat() -> None:
            HEARTBEAT.labels(worker=hostname).set(time.time())

        beat()
        self._timer_entry = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, beat, (), priority=10)
        if settings.worker_metrics_port is None:
            return
        try:
            self._server, _thread = start_http_server(
                settings.worker_metrics_port, settings.worker_metrics_host,
                registry=worker_registry(),
            )
        except OSError as exc:
            log.warning("worker metrics exporter could not bind",
                        port=settings.worker_metrics_port, error=str(exc))
            return
        log.info("worker metrics exporter listening", port=self._server.server_port)

    def stop(self, worker: Any) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server = None


# ---- fleet side: read at scrape time --------------------------------------------------


def queue_lists(queue: str) -> list[str]:
    return [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]


def queue_depth(client: Any, queue: str) -> int:
    pipe = client.pipeline(transaction=False)
    for name in queue_lists(queue):
        pipe.llen(name)
    return int(sum(pipe.execute()))


def oldest_message_age(client: Any, queue: str, now: float) -> float:
    """Seconds since the oldest waiting message was published; 0 for an empty queue.

    Kombu pushes on the left and pops on the right, so the oldest is at index -1.
    """
    oldest = 0.0
    for name in queue_lists(queue):
        raw = client.lindex(name, -1)
        if raw is None:
            continue
        try:
            headers = json.loads(raw).get("headers") or {}
            published = float(headers[PUBLISHED_AT_HEADER])
        except (ValueError, KeyError, TypeError):
            continue
        oldest = max(oldest, now - published)
    return oldest


class FleetCollector(Collector):
    """Reads the store and Redis when Prometheus scrapes; caches for ``ttl`` seconds so a
    burst of scrapes cannot load the store."""

    def __init__(self, settings: Settings, store: Any, ttl: float = 5.0) -> None:
        self.settings = settings
        self.store = store
        self.ttl = ttl
        self._cached: list[GaugeMetricFamily] = []
        self._cached_at = 0.0
        self._lock = threading.Lock()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if time.monotonic() - self._cached_at > self.ttl:
                self._cached = list(self._gather())
                self._cached_at = time.monotonic()
            yield from self._cached

    def _gather(self) -> Iterator[GaugeMetricFamily]:
        from sluice.stores import JobQuery

        jobs = GaugeMetricFamily(
            "sluice_jobs", "Jobs by kind and status.", labels=["kind", "status"]
        )
        dead = GaugeMetricFamily(
            "sluice_dead_letter_jobs", "Jobs in the dead-letter queue by reason.", labels=["reason"]
        )
        try:
            for status in JobStatus:
                by_kind = self.store.count_by(JobQuery(statuses=(status,)), "kind")
                for kind, count in by_kind.items():
                    jobs.add_metric([str(kind), status.value], count)
            by_reason = self.store.count_by(JobQuery(statuses=tuple(DEAD_LETTERED)), "reason")
            for reason, count in by_reason.items():
                dead.add_metric([str(reason or "unknown")], count)
            yield jobs
            yield dead
        except Exception as exc:
            log.warning("metrics could not read the store", error=str(exc))
        yield from self._gather_redis()

    def _gather_redis(self) -> Iterator[GaugeMetricFamily]:
        from libs.llm import budget as llm_budget
        from sluice.broker_redis import broker_redis

        depth = GaugeMetricFamily(
            "sluice_queue_depth", "Messages waiting in a queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "sluice_queue_oldest_message_age_seconds",
            "Age of the oldest waiting message in a queue.", labels=["queue"],
        )
        paused = GaugeMetricFamily("sluice_llm_paused", "1 while the LLM kill switch is on.")
        used = GaugeMetricFamily(
            "sluice_llm_budget_used", "Spent in the current window of a budget rule.",
            labels=["rule", "scope"],
        )
        limit = GaugeMetricFamily(
            "sluice_llm_budget_limit", "Limit of a budget rule's window.", labels=["rule", "scope"]
        )
        try:
            client = broker_redis(self.settings)
            now = time.time()
            for queue in Queue:
                depth.add_metric([queue.value], queue_depth(client, queue.value))
                age.add_metric([queue.value], oldest_message_age(client, queue.value, now))
            paused.add_metric([], 1.0 if llm_budget.is_paused(self.settings) else 0.0)
            for window in llm_budget.usage(self.settings):
                used.add_metric([window.rule.name, window.scope_id], window.used)
                limit.add_metric([window.rule.name, window.scope_id], window.limit)
        except Exception as exc:
            log.warning("metrics could not read Redis", error=str(exc))
            return
        yield from (depth, age, paused, used, limit)
