"""The job runtime's Prometheus instruments, filled from Celery's task signals.

Job outcomes, dead-letter inflow, retries, deliveries per job, queue wait and run time.
Task code does not call them. They are safe with prefork children: ``sluice worker`` sets
``PROMETHEUS_MULTIPROC_DIR`` (see :mod:`sluice.multiprocess_metrics`) before this module is
first imported, and :class:`sluice.worker_metrics.WorkerMetricsExporter` serves the sum of
every process's values. LLM instruments live with the LLM client (``libs.llm.metrics``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime
from typing import Any

import structlog
from celery.signals import before_task_publish, task_postrun, task_prerun
from prometheus_client import Counter, Histogram

from schemas.job import DeadReason, Job, JobStatus
from sluice.broker_queues import PUBLISHED_AT_HEADER

log = structlog.get_logger(__name__)

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
RETENTION_PURGED = Counter(
    "sluice_retention_purged_total", "Rows the retention sweep deleted, by what they held "
    "(jobs, email_bodies, records).", ["what"],
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

# (task id, retries) -> start: a retry keeps its task id and may start before we finish.
_started: dict[tuple[str, int], float] = {}
# (task id, retries) -> the version the run settled its job in (see note_settled).
_settled: dict[tuple[str, int], Job] = {}
_started_lock = threading.Lock()


def note_settled(task_id: str | None, retries: int | None, job: Job) -> None:
    """The job as the running task left it, so the outcome is counted without a read."""
    if task_id is not None:
        with _started_lock:
            _settled[(task_id, int(retries or 0))] = job


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
    key = (task_id, int(task.request.retries or 0))
    with _started_lock:
        started = _started.pop(key, None)
        job = _settled.pop(key, None)
    if started is None or not args or not hasattr(task, "run_job"):
        return
    RUN_TIME.labels(kind=task.name, queue=_queue_of(task.request)).observe(time.time() - started)
    if state == "RETRY":
        RETRIES.labels(kind=task.name).inc()
        JOB_OUTCOMES.labels(kind=task.name, status=JobStatus.RETRYING.value).inc()
        return
    # Only what this run settled counts: a dropped stale delivery settled nothing.
    if job is None or not job.settled:
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
