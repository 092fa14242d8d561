"""Turning a request into a stored job and a broker message carrying only its id.

The kind is checked against the kind table (by default the one the composition root
loaded into this process, :func:`sluice.kinds.loaded_kinds`), which also names its queue.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from celery import Celery
from kombu.exceptions import OperationalError

from schemas.job import Job, utcnow
from schemas.principal import DEFAULT_TENANT
from sluice.errors import UnknownKind
from sluice.kinds import KindTable, loaded_kinds
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
) -> tuple[Job, bool]:
    """Store a job and send its message; returns (job, created).

    With an idempotency key already known, returns the existing job and sends nothing.
    If the broker is down the job stays ``queued`` with no ``sent_at``, and a worker's
    stranded-job recovery sends it later: a stored job is never lost. An input the kind's
    model refuses raises :class:`~sluice.errors.InvalidInput` and stores nothing.
    """
    kinds = kinds if kinds is not None else loaded_kinds()
    spec = kinds.spec(kind)
    if not spec.submittable:
        raise UnknownKind(kind, kinds.submittable())
    spec.check_input(input)
    check_countdown(settings, countdown)
    job = Job(
        kind=kind,
        input=input,
        idempotency_key=idempotency_key,
        max_deliveries=settings.max_deliveries,
        task_id=uuid.uuid4().hex,
        redriven_from=redriven_from,
        api_key_id=api_key_id,
        tenant=tenant,
    )
    job, created = store.create(job)
    if created:
        job = send(job, store=store, celery=celery, settings=settings, countdown=countdown,
                   kinds=kinds)
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
) -> Job:
    """Publish the job's message and record that the broker took it."""
    assert job.task_id is not None
    queue = (kinds if kinds is not None else loaded_kinds()).spec(job.kind).queue
    try:
        celery.send_task(
            job.kind,
            args=[job.id],
            task_id=job.task_id,
            queue=queue.value,
            countdown=countdown,
            retry=False,
        )
    except (OperationalError, ConnectionError, OSError) as exc:
        log.warning("broker refused the message; the job waits for recovery",
                    job_id=job.id, kind=job.kind, error=str(exc))
        return job
    return store.update_fields(job.id, sent_at=utcnow())
