"""Driving a batch run: submit items up to the in-flight bound, record where it got to.

:meth:`BatchRunner.advance` is one step and holds nothing in memory between steps, so the
same run can be driven by ``sluice batch run`` in a terminal, resumed by ``sluice batch
resume`` after that terminal died, or advanced by a Celery task every few seconds, and any
two of these at once do no harm: every submission carries the item's idempotency key.

Exactly once per item: a killed runner may have submitted items past its saved cursor;
resuming re-reads them and the store hands back the jobs that exist.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from celery import Celery

from producers.batch.progress import BatchProgress, batch_progress, tokens_used
from producers.batch.runs import BatchRun, BatchRuns, RunStatus
from producers.batch.transforms import BatchContext, NotFinished, transform_named
from producers.state_store import StateStore
from schemas.job import utcnow
from sluice.enqueue import submit
from sluice.settings import Settings
from sluice.stores import IdempotencyConflict, JobStore

log = structlog.get_logger(__name__)

CURSOR_SAVE_EVERY = 20


class BatchRunner:
    def __init__(
        self, *, store: JobStore, celery: Celery, settings: Settings, state: StateStore
    ) -> None:
        self.store = store
        self.celery = celery
        self.settings = settings
        self.runs = BatchRuns(state)
        self.context = BatchContext(store=store, settings=settings, celery=celery)

    def start(
        self,
        transform: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        filters: list[tuple[str, Any]] | None = None,
        options: dict[str, Any] | None = None,
    ) -> BatchRun:
        chosen = transform_named(transform, self.settings)
        now = utcnow()
        run = BatchRun(transform=transform, options=options or {}, since=since,
                       until=min(until, now) if until else now, filters=filters or [])
        run.selected = chosen.count(run, self.context)
        self.runs.create(run)
        log.info("batch run started", run_id=run.id, transform=transform, selected=run.selected)
        return run

    def progress(self, run: BatchRun) -> BatchProgress:
        return batch_progress(self.store, run, run.skipped)

    def advance(self, run_id: str) -> BatchProgress:
        """Submit items while fewer than ``SLUICE_BATCH_MAX_IN_FLIGHT`` are in flight;
        finish the run once the selection is exhausted and nothing is in flight."""
        run = self.runs.get(run_id)
        if run.status is not RunStatus.RUNNING:
            return self.progress(run)
        progress = self.progress(run)
        room = self.settings.batch_max_in_flight - progress.in_flight
        if not run.exhausted and room > 0:
            run = self._submit(run, room)
            progress = self.progress(run)
        if run.exhausted and progress.in_flight == 0:
            run = self._finish(run)
            progress = self.progress(run)
        return progress

    def _submit(self, run: BatchRun, room: int) -> BatchRun:
        transform = transform_named(run.transform, self.settings)
        position, skipped, submitted, unsaved = run.cursor, 0, 0, 0
        exhausted = True
        for item in transform.items(run, self.context, run.cursor):
            if submitted >= room:
                exhausted = False
                break
            if item.kind is None or item.input is None:
                skipped += 1
            else:
                # A conflict means the key was submitted before: that job is the item's.
                with contextlib.suppress(IdempotencyConflict):
                    submit(item.kind, item.input, idempotency_key=run.idempotency_key(item.key),
                           store=self.store, celery=self.celery, settings=self.settings)
                submitted += 1
            position = item.position
            unsaved += 1
            if unsaved >= CURSOR_SAVE_EVERY:
                run = self._save_cursor(run.id, position, skipped, exhausted=False)
                skipped, unsaved = 0, 0
        return self._save_cursor(run.id, position, skipped, exhausted=exhausted)

    def _save_cursor(self, run_id: str, position: str | None, skipped: int, *,
                     exhausted: bool) -> BatchRun:
        def change(run: BatchRun) -> BatchRun:
            run.cursor = position
            run.skipped += skipped
            run.exhausted = run.exhausted or exhausted
            return run

        return self.runs.update(run_id, change)

    def _finish(self, run: BatchRun) -> BatchRun:
        transform = transform_named(run.transform, self.settings)
        try:
            outcome = transform.finish(run, self.context)
        except NotFinished as pending:
            log.debug("batch run closing", run_id=run.id, waiting_for=str(pending))
            return run
        progress = self.progress(run)

        def change(current: BatchRun) -> BatchRun | None:
            if current.status is not RunStatus.RUNNING:
                return None
            current.status = RunStatus.FINISHED
            current.finished_at = utcnow()
            current.summary = {
                "items": progress.total, "succeeded": progress.succeeded,
                "dead": progress.dead, "closed": progress.closed,
                "skipped": current.skipped,
                "tokens": tokens_used(self.store, current.id),
                "seconds": round((current.finished_at - current.created_at).total_seconds(), 3),
                **outcome,
            }
            return current

        finished = self.runs.update(run.id, change)
        log.info("batch run finished", run_id=run.id, **(finished.summary or {}))
        return finished

    def cancel(self, run_id: str) -> BatchRun:
        """Stop submitting; items already queued still run."""

        def change(run: BatchRun) -> BatchRun | None:
            if run.status is not RunStatus.RUNNING:
                return None
            run.status = RunStatus.CANCELLED
            run.finished_at = utcnow()
            return run

        return self.runs.update(run_id, change)

    def run_until_done(
        self,
        run_id: str,
        *,
        interval: float = 0.5,
        on_progress: Callable[[BatchProgress], None] | None = None,
        timeout: float | None = None,
    ) -> BatchRun:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            progress = self.advance(run_id)
            if on_progress is not None:
                on_progress(progress)
            if progress.status != RunStatus.RUNNING.value:
                return self.runs.get(run_id)
            if deadline is not None and time.monotonic() > deadline:
                return self.runs.get(run_id)
            time.sleep(interval)


def open_batch_runner(settings: Settings) -> BatchRunner:
    from producers.state_store import open_state_store
    from sluice.celery_app import create_celery_app
    from sluice.stores import open_store

    return BatchRunner(store=open_store(settings), celery=create_celery_app(settings),
                       settings=settings, state=open_state_store(settings))
