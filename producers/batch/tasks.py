"""Batch runs started by Celery beat: ``batch.start`` creates the run, ``batch.advance``
drives it a step at a time, rescheduling itself until the run is finished.

No task holds a run in memory or runs for long, so a worker restart loses nothing: the
next ``batch.advance`` (or ``sluice batch resume``) carries on from the stored record.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task

from schemas.inputs.system import BatchAdvanceInput, BatchStartInput
from sluice.kinds import Queue, internal_task
from sluice.settings import get_settings

log = structlog.get_logger(__name__)

START_TASK = "batch.start"
ADVANCE_TASK = "batch.advance"
ADVANCE_EVERY_SECONDS = 2.0


def _runner(task: Task) -> Any:
    """A runner that sends through the app the running task belongs to."""
    from producers.batch.runner import BatchRunner
    from producers.state_store import shared_state_store
    from sluice.stores import get_store

    settings = get_settings()
    return BatchRunner(store=get_store(), celery=task.app, settings=settings,
                       state=shared_state_store(settings))


@internal_task(START_TASK, queue=Queue.IO, input_model=BatchStartInput, bind=True)
def start_batch(
    self: Task, transform: str, options: dict[str, Any] | None = None
) -> str:
    """Schedule options: ``filters`` ([[key, value], ...]) and ``since_hours`` (only work
    from the last N hours) shape the selection; the rest go to the transform."""
    from datetime import timedelta

    from schemas.job import utcnow

    runner = _runner(self)
    options = dict(options or {})
    filters = [(str(key), value) for key, value in options.pop("filters", [])]
    since_hours = options.pop("since_hours", None)
    since = utcnow() - timedelta(hours=float(since_hours)) if since_hours else None
    run = runner.start(transform, since=since, filters=filters, options=options)
    advance_batch.apply_async(args=[run.id], countdown=0)
    return str(run.id)


# A failing step (the store briefly away) is retried with backoff rather than left
# unacknowledged until the broker's visibility timeout brings it back an hour later.
@internal_task(
    ADVANCE_TASK, queue=Queue.IO, input_model=BatchAdvanceInput, bind=True,
    autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300, max_retries=20,
)
def advance_batch(self: Task, run_id: str) -> dict[str, Any]:
    progress = _runner(self).advance(run_id)
    if progress.status == "running":
        advance_batch.apply_async(args=[run_id], countdown=ADVANCE_EVERY_SECONDS)
    return dict(progress.as_dict())
