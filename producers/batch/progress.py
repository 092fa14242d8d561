"""A batch run's progress, counted from the job store: the store is the truth.

Nothing is counted twice in two places: queued, running, succeeded and dead are counts of
the run's jobs by status, so the terminal's progress bar, ``GET /v1/batches/{id}`` and the
jobs themselves always agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from producers.batch.runs import BatchRun
from schemas.job import DEAD_LETTERED, SETTLED, JobStatus
from sluice.stores import JobQuery, JobStore

IN_FLIGHT = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING)
DEAD = tuple(sorted(DEAD_LETTERED))
# Settled by a person's action (or a cancel): everything settled but succeeded and the DLQ.
CLOSED = tuple(sorted(SETTLED - DEAD_LETTERED - {JobStatus.SUCCEEDED}))


@dataclass(frozen=True)
class BatchProgress:
    run_id: str
    status: str
    selected: int
    skipped: int
    submitted: int
    queued: int
    running: int
    succeeded: int
    dead: int
    closed: int  # resolved, requeued, discarded or cancelled after dying

    @property
    def in_flight(self) -> int:
        return self.queued + self.running

    @property
    def done(self) -> int:
        return self.succeeded + self.dead + self.closed

    @property
    def total(self) -> int:
        return max(self.selected - self.skipped, self.submitted)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "in_flight": self.in_flight, "done": self.done,
                "total": self.total}


def run_query(run_id: str, *statuses: JobStatus) -> JobQuery:
    return JobQuery(statuses=statuses, fields=(("input.batch_run", run_id),))


def batch_progress(store: JobStore, run: BatchRun, skipped: int) -> BatchProgress:
    def count(*statuses: JobStatus) -> int:
        return store.count(run_query(run.id, *statuses))

    return BatchProgress(
        run_id=run.id,
        status=run.status.value,
        selected=run.selected,
        skipped=skipped,
        submitted=count(),
        queued=count(JobStatus.QUEUED),
        running=count(JobStatus.RUNNING, JobStatus.RETRYING),
        succeeded=count(JobStatus.SUCCEEDED),
        dead=count(*DEAD),
        closed=count(*CLOSED),
    )


def tokens_used(store: JobStore, run_id: str) -> int:
    """Prompt and completion tokens of every attempt of the run's jobs."""
    return sum(
        attempt.tokens for job in store.iter_jobs(run_query(run_id)) for attempt in job.attempts
    )
