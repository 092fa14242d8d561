"""Turning a request into a stored job and a broker message carrying only its id.

The kind is checked against the kind table (by default the one the composition root
loaded into this process, :func:`sluice.kinds.loaded_kinds`), which also names its queue.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import structlog
from celery import Celery
from kombu.exceptions import OperationalError

from schemas.job import Job, JobPriority, JobStatus, utcnow
from schemas.principal import DEFAULT_TENANT
from sluice.callbacks import check_callback_url
from sluice.errors import UnknownKind
from sluice.kinds import KindTable, loaded_kinds
from sluice.priorities import broker_priority, effective_priority
from sluice.settings import Settings
from sluice.stores.base import JobStore
from sluice.visibility import check_countdown

log = structlog.get_logger(__name__)


def submit(
    kind: str,
    input: dict[str, Any],
    *,
    store: JobStore,
    celery: Celery,
    settings: Settings,
    idempotency_key: str | None = None,
    redriven_from: str | None = None,
    countdown: float | None = None,
    api_key_id: str | None = None,
    kinds: KindTable | None = None,
    tenant: str = DEFAULT_TENANT,
    priority: JobPriority = JobPriority.NORMAL,
    run_at: datetime | None = None,
    callback_url: str | None = None,
) -> tuple[Job, bool]:
    """Store a job and send its message; returns (job, created).

    With an idempotency key already known, returns the existing job and sends nothing.
    The job is stored with ``sent_at`` already set, so a submit costs the store one write:
    if the broker then refuses the message, a second write clears it and the job waits
    ``queued`` with no ``sent_at`` until a worker's stranded-job recovery sends it. A
    process killed between the write and the publish leaves a job that looks sent; the
    undelivered rule of :mod:`sluice.recovery` re-sends it after the visibility timeout.
    A stored job is never lost. An input the kind's model refuses raises
    :class:`~sluice.errors.InvalidInput` and stores nothing.

    A ``run_at`` in the future stores the job ``scheduled`` and sends nothing: the due
    sweep (:mod:`sluice.due`) queues it then, however far ahead. A ``callback_url`` must
    pass :func:`sluice.callbacks.check_callback_url`.
    """
    kinds = kinds if kinds is not None else loaded_kinds()
    spec = kinds.spec(kind)
    if not spec.submittable:
        raise UnknownKind(kind, kinds.submittable())
    spec.check_input(input)
    check_countdown(settings, countdown)
    if callback_url is not None:
        check_callback_url(settings, callback_url)
    scheduled = run_at is not None and run_at > utcnow()
    job = Job(
        kind=kind,
        input=input,
        idempotency_key=idempotency_key,
        max_deliveries=settings.max_deliveries,
        task_id=uuid.uuid4().hex,
        redriven_from=redriven_from,
        api_key_id=api_key_id,
        tenant=tenant,
        priority=priority,
        run_at=run_at,
        callback_url=callback_url,
        status=JobStatus.SCHEDULED if scheduled else JobStatus.QUEUED,
    )
    if not scheduled:
        job.sent_at = job.created_at
    job, created = store.create(job)
    if created and scheduled:
        log.info("job scheduled", job_id=job.id, kind=kind, run_at=str(run_at))
    elif created:
        job = send(job, store=store, celery=celery, settings=settings, countdown=countdown,
                   kinds=kinds, marked=True)
        log.info("job submitted", job_id=job.id, kind=kind, queue=spec.queue.value, attempt=0)
    return job, created


def send(
    job: Job,
    *,
    store: JobStore,
    celery: Celery,
    settings: Settings,
    countdown: float | None = None,
    kinds: KindTable | None = None,
    marked: bool = False,
) -> Job:
    """Publish the job's message and record that the broker took it.

    ``marked``: the stored version already carries ``sent_at`` (see :func:`submit`); a
    refused publish then clears it, so that stranded-job recovery sends the job."""
    assert job.task_id is not None
    queue = (kinds if kinds is not None else loaded_kinds()).spec(job.kind).queue
    try:
        celery.send_task(
            job.kind,
            args=[job.id],
            task_id=job.task_id,
            queue=queue.value,
            countdown=countdown,
            priority=broker_priority(effective_priority(job)),
            retry=False,
        )
    except (OperationalError, ConnectionError, OSError) as exc:
        log.warning("broker refused the message; the job waits for recovery",
                    job_id=job.id, kind=job.kind, error=str(exc))
        return store.update_fields(job.id, sent_at=None, known=job) if marked else job
    if marked:
        return job
    # ``job`` is the version just stored: the mark needs no read first.
    return store.update_fields(job.id, sent_at=utcnow(), known=job)
