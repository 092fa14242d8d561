"""Recovery from the store's point of view: every unfinished job keeps a live message.

Two cases are found from the job records and re-sent, each under a fresh message id so
that any copy of the old message, if it ever arrives, is stale and dropped on delivery:

- stranded: its message was refused while the broker was down (no ``sent_at``);
- undelivered: queued and sent, untouched for longer than the visibility timeout (plus
  ``stranded_after``), and sent before the oldest message waiting in its queue, so its
  message is not waiting there: a worker took it off the queue and died before kombu
  recorded it as unacknowledged (the Redis transport pops, then records), the broker
  lost it, or the submitting process died between storing the job (``sent_at`` is
  stored with it) and publishing. A message that was in fact still held somewhere is
  stale once re-sent, and dropped on arrival, so a wrong guess costs one message, never
  a second run;
- abandoned: running or retrying, untouched for longer than the visibility timeout (plus
  ``stranded_after``), so no broker message can still speak for it: the broker lost the
  message (a Redis restart without persistence), or a hard time limit struck where
  nothing could record it. The re-sent message counts as a delivery,
  so a job that keeps getting abandoned still ends ``dead/poison``.

Starvation is bounded here too: a queued job that waited ``SLUICE_PRIORITY_AGING_SECONDS``
is re-sent one priority step sooner (:func:`sluice.due.age_priorities`).

Every worker runs this on a timer (``StrandedJobRecovery`` in ``sluice.celery_app``, with
the worker's own app); compare-and-set makes concurrent runs harmless. Kinds are routed by
the table the composition root loaded (:func:`sluice.kinds.loaded_kinds`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import redis
import structlog
from celery import Celery

from schemas.job import Job, JobStatus
from sluice.broker_queues import oldest_message_age
from sluice.broker_redis import broker_redis
from sluice.due import age_priorities
from sluice.enqueue import send
from sluice.errors import UnknownKind
from sluice.kinds import loaded_kinds
from sluice.settings import Settings, get_settings
from sluice.stores import JobStore, get_store

log = structlog.get_logger(__name__)

# A submit stores ``sent_at`` just before the publish stamps the message's own time, so a
# job's sent_at can precede its waiting message's stamp by that much.
SEND_STAMP_SLACK_SECONDS = 1.0


def _take_over(
    store: JobStore, job_id: str, still_lost: Callable[[Job], bool]
) -> Job | None:
    """Give the job a fresh message id if it is still lost; None when it moved on."""
    new_task_id = uuid.uuid4().hex

    def change(job: Job) -> Job | None:
        if not still_lost(job):
            return None
        job.task_id = new_task_id
        return job

    job = store.mutate(job_id, change)
    return job if job.task_id == new_task_id else None


def recover(store: JobStore | None, celery: Celery, settings: Settings | None = None) -> int:
    """Re-send every stranded, undelivered or abandoned job; returns how many were sent."""
    store = store or get_store()
    settings = settings or get_settings()
    stranded_after = timedelta(seconds=settings.stranded_after_seconds)
    quiet_for = timedelta(seconds=settings.visibility_timeout) + stranded_after
    resent = 0

    for found in store.stranded(stranded_after):
        job = _take_over(
            store, found.id, lambda j: j.status is JobStatus.QUEUED and j.sent_at is None
        )
        if job is not None:
            resent += _resend(job, store, celery, settings, "stranded")

    resent += _resend_undelivered(store, celery, settings, quiet_for)

    for found in store.abandoned(quiet_for):
        resent += _resend_if_untouched(found, store, celery, settings, "abandoned")
    return resent + age_priorities(store, celery, settings)


def _resend_undelivered(
    store: JobStore, celery: Celery, settings: Settings, quiet_for: timedelta
) -> int:
    candidates = [job for job in store.undelivered(quiet_for) if job.sent_at is not None]
    if not candidates:
        return 0
    client = broker_redis(settings)
    waiting_since: dict[str, float] = {}  # queue -> publish time of its oldest message
    resent = 0
    for found in candidates:
        try:
            queue = loaded_kinds().spec(found.kind).queue
        except UnknownKind:
            continue  # its plugin was removed: sending it again could not work either
        if queue not in waiting_since:
            try:
                now = time.time()
                waiting_since[queue] = now - oldest_message_age(client, queue, now)
            except redis.RedisError as exc:
                log.warning("cannot look at the queue; undelivered jobs wait", queue=queue,
                            error=str(exc))
                return resent
        assert found.sent_at is not None
        if found.sent_at.timestamp() + SEND_STAMP_SLACK_SECONDS >= waiting_since[queue]:
            continue  # its message may still be waiting its turn
        resent += _resend_if_untouched(found, store, celery, settings, "undelivered")
    return resent


def _resend_if_untouched(
    found: Job, store: JobStore, celery: Celery, settings: Settings, why: str
) -> int:
    """Re-send ``found`` unless it changed since it was found (someone else acted)."""

    def untouched(job: Job) -> bool:
        return job.status is found.status and job.version == found.version

    job = _take_over(store, found.id, untouched)
    return 0 if job is None else _resend(job, store, celery, settings, why)


def _resend(job: Job, store: JobStore, celery: Celery, settings: Settings, why: str) -> int:
    sent = send(job, store=store, celery=celery, settings=settings)
    if sent.sent_at is None or sent.sent_at == job.sent_at:
        return 0
    log.warning("re-sent a job that had lost its message", job_id=job.id, kind=job.kind, why=why)
    return 1
