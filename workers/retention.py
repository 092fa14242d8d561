"""The periodic retention sweep: Celery beat sends ``retention.sweep`` on
SLUICE_RETENTION_CRON; :mod:`libs.retention` says what it deletes.

Not a job kind: a sweep leaves no job record of its own (it would be the next thing to
sweep). One that outlasts the interval holds a lock in Redis, so two never overlap.
"""

from __future__ import annotations

from typing import Any

from celery import Task

from schemas.inputs.system import RetentionSweepInput
from sluice.cron import parse_cron
from sluice.kinds import Queue, internal_task
from sluice.settings import Settings, get_settings

SWEEP_TASK = "retention.sweep"
LOCK_KEY = "sluice:retention:sweep"


@internal_task(SWEEP_TASK, queue=Queue.IO, input_model=RetentionSweepInput, bind=True)
def sweep_expired(self: Task) -> dict[str, Any]:
    from libs.documents.warehouse import get_documents
    from libs.retention import sweep
    from libs.sinks.records import records_for
    from sluice.broker_redis import broker_redis
    from sluice.stores import get_store

    settings = get_settings()
    lock = broker_redis(settings).lock(LOCK_KEY, timeout=settings.task_time_limit)
    if not lock.acquire(blocking=False):
        return {"skipped": "a sweep is still running"}
    try:
        purged = sweep(store=get_store(), documents=get_documents(),
                       records=records_for(settings), celery=self.app, settings=settings)
        return {"jobs": purged.jobs, "email_bodies": purged.email_bodies,
                "records": purged.records}
    finally:
        lock.release()


def retention_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The beat entry of the sweep (`sluice beat` adds it to the batch schedule)."""
    return {"retention-sweep": {"task": SWEEP_TASK, "schedule": parse_cron(settings.retention_cron),
                                "options": {"queue": Queue.IO.value}}}
