"""The due sweep: what the store says must happen now, found by ``Job.wake_at``.

Two things wait in the store for their time, never in the broker (a countdown longer than
the visibility timeout would be redelivered early, and a broker restart would lose it):

- a scheduled job (status ``scheduled``), queued and sent when its ``run_at`` comes;
- a callback owed by a settled job (:mod:`sluice.callbacks`), sent to the ``io`` queue
  when due, and again if its lease ends before it reports back.

Every worker runs :func:`sweep_due` on a timer (``SLUICE_DUE_SWEEP_SECONDS``, set in
``sluice.celery_app``); the stores index ``wake_at``, so a sweep reads only what is due,
and compare-and-set makes concurrent sweeps harmless (the one whose write lands sends).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from celery import Celery
from kombu.exceptions import OperationalError

from schemas.job import Job, JobPriority, JobStatus, check_transition, utcnow
from sluice import callbacks
from sluice.enqueue import send
from sluice.kinds import Queue
from sluice.priorities import broker_priority, effective_priority
from sluice.settings import Settings, get_settings
from sluice.stores import JobQuery, JobStore, get_store

log = structlog.get_logger(__name__)


def sweep_due(store: JobStore | None, celery: Celery, settings: Settings | None = None) -> int:
    """Release every due scheduled job and send every due callback; returns how many."""
    store = store or get_store()
    settings = settings or get_settings()
    done = 0
    now = utcnow()
    for found in store.due(now):
        try:
            if found.status is JobStatus.SCHEDULED and found.run_at and found.run_at <= now:
                done += release(store, celery, settings, found.id)
            done += _send_due_callbacks(store, celery, settings, found.id)
        except Exception as exc:  # one job's trouble (a kind gone, a race) never stops the rest
            log.warning("due sweep skipped a job; it is tried again next sweep",
                        job_id=found.id, kind=found.kind, error=f"{type(exc).__name__}: {exc}")
    return done


def age_priorities(store: JobStore, celery: Celery, settings: Settings) -> int:
    """Bound starvation: a queued job untouched for ``SLUICE_PRIORITY_AGING_SECONDS`` is
    re-sent one priority step sooner, under a fresh message id (its old message, when a
    worker reaches it, is stale and dropped). Returns how many were moved up. Runs with
    stranded-job recovery (:func:`sluice.recovery.recover`), on every worker's timer."""
    if settings.priority_aging_seconds is None:
        return 0
    quiet_for = timedelta(seconds=settings.priority_aging_seconds)
    query = JobQuery(statuses=(JobStatus.QUEUED,), updated_before=utcnow() - quiet_for)
    moved = 0
    for found in store.list_jobs(query, limit=AGING_BATCH, oldest_first=True).items:
        if found.sent_at is None or effective_priority(found) is JobPriority.HIGH:
            continue  # unsent: stranded-job recovery sends it; high: nothing sooner
        task_id = uuid.uuid4().hex

        def boost(job: Job, version: int = found.version, task_id: str = task_id) -> Job | None:
            if job.version != version:
                return None  # delivered, cancelled or moved by another sweep meanwhile
            job.priority_boosts += 1
            job.task_id = task_id
            return job

        job = store.mutate(found.id, boost)
        if job.task_id == task_id:
            send(job, store=store, celery=celery, settings=settings)
            log.info("queued job moved up a priority step after waiting", job_id=job.id,
                     priority=effective_priority(job).value)
            moved += 1
    return moved


# Jobs looked at per sweep for aging; the oldest first, so the longest waiting move first.
AGING_BATCH = 100


def release(store: JobStore, celery: Celery, settings: Settings, job_id: str) -> int:
    """Queue a scheduled job whose time has come and send its message (1 when this call
    did it). A broker that is down leaves it queued without ``sent_at``, which the
    stranded-job recovery sends later."""
    task_id = uuid.uuid4().hex

    def change(job: Job) -> Job | None:
        if job.status is not JobStatus.SCHEDULED or job.run_at is None or job.run_at > utcnow():
            return None  # cancelled, released by another sweep, or moved later
        check_transition(job.id, job.status, JobStatus.QUEUED)
        job.status, job.task_id = JobStatus.QUEUED, task_id
        return job

    job = store.mutate(job_id, change)
    if job.task_id != task_id or job.status is not JobStatus.QUEUED:
        return 0
    send(job, store=store, celery=celery, settings=settings)
    log.info("scheduled job released", job_id=job.id, kind=job.kind, run_at=str(job.run_at))
    return 1


def _send_due_callbacks(store: JobStore, celery: Celery, settings: Settings, job_id: str) -> int:
    """Take each due callback (move its ``due_at`` to the end of a lease), then send it."""
    taken: list[str] = []

    def change(job: Job) -> Job | None:
        taken.clear()
        now = utcnow()
        for callback in callbacks.pending(job):
            if callback.due_at is not None and callback.due_at <= now:
                callback.due_at = now + callbacks.lease(settings)
                taken.append(callback.delivery_id)
        return job if taken else None

    job = store.mutate(job_id, change)
    sent = 0
    for delivery_id in taken:  # what this sweep's write took; a racing sweep took the rest
        try:
            # Callbacks tell a waiting service its job is done: ahead of other io work.
            celery.send_task(callbacks.CALLBACK_TASK, args=[job.id, delivery_id],
                             queue=Queue.IO.value, retry=False,
                             priority=broker_priority(JobPriority.HIGH))
        except (OperationalError, ConnectionError, OSError) as exc:
            log.warning("broker refused a callback; it is sent when its lease ends",
                        job_id=job.id, delivery_id=delivery_id, error=str(exc))
            continue
        sent += 1
    return sent
