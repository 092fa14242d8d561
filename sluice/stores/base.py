"""The job store: a backend gives a handful of primitives, the operations are written once.

A backend implements insert, get, compare-and-set replace (on ``version``) and queries.
Everything that changes a job (state transitions, delivery counting, attempts, claims)
is built here on :meth:`JobStore.mutate`, so SQLite and MongoDB follow the same rules and
one contract suite covers both; a backend may do a first delivery, the most frequent write,
in one statement (:meth:`JobStore._count_first_delivery`), held to the same result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog

from schemas.attempt import Attempt
from schemas.job import (
    TERMINAL,
    IllegalTransition,
    Job,
    JobPage,
    JobStatus,
    check_transition,
    utcnow,
)
from sluice.callbacks import add_settlement_callback
from sluice.delivery import DeliveryDecision, decide_delivery
from sluice.errors import JobNotFound
from sluice.stores.cas import ConcurrentUpdate, compare_and_set
from sluice.stores.job_changes import assign, working_copy
from sluice.stores.job_query import (
    InvalidCursor,
    JobQuery,
    decode_cursor,
    encode_cursor,
    format_time,
)

log = structlog.get_logger(__name__)


class IdempotencyConflict(Exception):
    """The idempotency key exists already, for a job with other kind or input."""

    def __init__(self, existing: Job) -> None:
        super().__init__(
            f"idempotency key {existing.idempotency_key!r} belongs to job {existing.id} "
            "with a different kind or input"
        )
        self.existing = existing


Mutation = Callable[[Job], Job | None]
# Called with each version written and the version it replaced (None for a new job).
Observer = Callable[[Job, Job | None], None]


class JobStore(ABC):
    _observers: tuple[Observer, ...] = ()

    def observe(self, observer: Observer) -> None:
        """Call ``observer`` with each version this store writes (after the write)."""
        self._observers = (*self._observers, observer)

    def _written(self, job: Job, previous: Job | None) -> None:
        for observer in self._observers:
            try:
                observer(job, previous)
            except Exception as exc:  # an observer never undoes or fails a write
                log.warning("job store observer failed", job_id=job.id, error=str(exc))

    def is_unavailable(self, error: BaseException) -> bool:
        """Whether ``error`` from this store means "not reachable now" (a failover, a lost
        connection) rather than anything about the job: the caller retries the write
        instead of judging the job by it. The backends that can tell override this."""
        return False

    # ---- backend primitives -------------------------------------------------------------

    @abstractmethod
    def _insert(self, job: Job) -> bool:
        """Insert; False when the idempotency key exists already."""

    @abstractmethod
    def get(self, job_id: str) -> Job:
        """The job, or :class:`JobNotFound`."""

    @abstractmethod
    def get_by_idempotency_key(self, key: str) -> Job | None: ...

    @abstractmethod
    def _replace(self, job: Job, current: Job) -> bool:
        """Write ``job`` over ``current`` if the stored version is still ``current.version``
        (a backend may write only what differs between the two)."""

    @abstractmethod
    def _find(
        self, query: JobQuery, limit: int, after: tuple[str, str] | None, oldest_first: bool
    ) -> list[Job]: ...

    @abstractmethod
    def count(self, query: JobQuery) -> int: ...

    def count_by(self, query: JobQuery, path: str) -> dict[str | None, int]:
        """How many jobs match ``query`` per value of the dotted ``path`` (a GROUP BY).

        This default reads every match; the backends override it with a native query.
        """
        counts: dict[str | None, int] = {}
        for job in self.iter_jobs(query):
            value: Any = job.model_dump(mode="json")
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            key = None if value is None else str(value)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def count_upto(self, query: JobQuery, cap: int) -> int:
        """How many jobs match ``query``, counting no further than ``cap``.

        A bounded read whatever the history holds: the console's live counts show
        ``cap`` as "cap+" instead of scanning every succeeded job ever written. This
        default reads ids through ``_find``; the backends override it with a LIMIT.
        """
        return len(self._find(query, cap, None, False))

    @abstractmethod
    def _delete(self, job_ids: Sequence[str]) -> int:
        """Delete these jobs for good; how many existed."""

    def _ids_containing(self, needle: str, limit: int) -> list[str]:
        """Ids of up to ``limit`` jobs whose stored form contains ``needle`` (any case).

        An erasure, not a hot path: this default reads every job; SQLite overrides it with
        one scan inside the database.
        """
        needle = needle.lower()
        found = []
        for job in self.iter_jobs(JobQuery()):
            if needle in job.model_dump_json().lower():
                found.append(job.id)
                if len(found) == limit:
                    break
        return found

    def finished_counts(self) -> dict[tuple[str, str], int]:
        """(kind, terminal status) -> how many jobs have entered it: the monotonic counters
        of ``/metrics``.

        This default counts the job table, a cost that grows with history; a backend
        keeps the counts at the transition instead (SQLite by trigger, MongoDB by ``$inc``)
        so a scrape reads a handful of rows.
        """
        counts: dict[tuple[str, str], int] = {}
        for status in sorted(TERMINAL):
            for kind, n in self.count_by(JobQuery(statuses=(status,)), "kind").items():
                counts[(str(kind), status.value)] = n
        return counts

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be reached."""

    @abstractmethod
    def close(self) -> None: ...

    # ---- operations ---------------------------------------------------------------------

    def create(self, job: Job) -> tuple[Job, bool]:
        """Store a new job; with a known idempotency key return the existing one instead."""
        if self._insert(job):
            self._written(job, None)
            return job, True
        assert job.idempotency_key is not None
        existing = self.get_by_idempotency_key(job.idempotency_key)
        if existing is None:  # deleted between the two calls; a retry settles it
            return self.create(job)
        if existing.kind != job.kind or existing.input != job.input:
            raise IdempotencyConflict(existing)
        return existing, False

    def mutate(self, job_id: str, change: Mutation, *, known: Job | None = None) -> Job:
        """Apply ``change`` compare-and-set; it returns the new job, or None to leave it.

        ``change`` gets a private copy (:func:`~sluice.stores.job_changes.working_copy`)
        and may run more than once when writers race, so it must not have side effects
        outside the job. ``known`` is a version the caller read or wrote itself (unchanged
        since): the first try writes over it without reading the job again, and a read
        follows only when another writer moved the job meanwhile.
        """
        unread = [known] if known is not None and known.id == job_id else []

        def read() -> Job:
            return unread.pop() if unread else self.get(job_id)

        def propose(current: Job) -> Job | None:
            proposed = change(working_copy(current))
            if proposed is not None:
                proposed.version = current.version + 1
                proposed.updated_at = utcnow()
                add_settlement_callback(current, proposed)
            return proposed

        swap = compare_and_set(
            read,
            propose,
            lambda current, proposed: self._replace(proposed, current),
            what=f"job {job_id}",
        )
        if swap.written is None:
            return swap.current
        self._written(swap.written, swap.current)
        return swap.written

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        *,
        expected_version: int | None = None,
        known: Job | None = None,
        **fields: Any,
    ) -> Job:
        """Move a job to ``target`` (and set ``fields``), or raise :class:`IllegalTransition`.

        ``known``: see :meth:`mutate`."""

        def change(job: Job) -> Job:
            if expected_version is not None and job.version != expected_version:
                raise ConcurrentUpdate(
                    f"job {job_id} is at version {job.version}, not {expected_version}"
                )
            check_transition(job.id, job.status, target)
            assign(job, {"status": target, **fields})
            if target in (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED):
                job.finished_at = utcnow()
            return job

        return self.mutate(job_id, change, known=known)

    def update_fields(self, job_id: str, *, known: Job | None = None, **fields: Any) -> Job:
        """Set fields that are not the status (sent_at, progress figures, ...);
        ``known``: see :meth:`mutate`."""
        if "status" in fields:
            raise ValueError("use transition() to change a job's status")
        return self.mutate(job_id, lambda job: assign(job, fields), known=known)

    def _count_first_delivery(self, job_id: str, task_id: str) -> Job | None:
        """A queued, never delivered job whose message this is, moved to running as
        :func:`~sluice.delivery.decide_delivery` would, in one write where a backend can;
        None otherwise, and the general path decides."""
        return None

    def begin_delivery(self, job_id: str, task_id: str) -> DeliveryDecision:
        """Count one broker delivery before the task body runs; see :mod:`sluice.delivery`."""
        first = self._count_first_delivery(job_id, task_id)
        if first is not None:
            # Observers compare with the replaced version, rebuilt (but its updated_at).
            replaced = first.model_copy(update={
                "status": JobStatus.QUEUED, "deliveries": 0, "started_at": None,
                "version": first.version - 1,
            })
            self._written(first, replaced)
            return DeliveryDecision(first, run=True, changed=True, why="first delivery")
        decisions: list[DeliveryDecision] = []

        def change(job: Job) -> Job | None:
            decision = decide_delivery(job, task_id)
            decisions.append(decision)
            return decision.job if decision.changed else None

        final = self.mutate(job_id, change)
        decision = decisions[-1]
        return DeliveryDecision(final, decision.run, decision.changed, decision.why)

    def append_attempt(self, job_id: str, attempt: Attempt) -> Job:
        def change(job: Job) -> Job:
            job.attempts.append(attempt)
            return job

        return self.mutate(job_id, change)

    def cancel(self, job_id: str) -> Job:
        return self.transition(job_id, JobStatus.CANCELLED, reason=None)

    def list_jobs(
        self,
        query: JobQuery = JobQuery(),
        *,
        limit: int = 50,
        cursor: str | None = None,
        oldest_first: bool = False,
    ) -> JobPage:
        after = decode_cursor(cursor) if cursor else None
        items = self._find(query, limit + 1, after, oldest_first)
        next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
        return JobPage(items=items[:limit], next_cursor=next_cursor)

    def iter_jobs(self, query: JobQuery, *, batch: int = 200) -> Iterable[Job]:
        cursor: str | None = None
        while True:
            page = self.list_jobs(query, limit=batch, cursor=cursor, oldest_first=True)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def purge_settled(self, settled_before: datetime, *, batch: int) -> int:
        """Delete up to ``batch`` terminal jobs last written before ``settled_before``.

        Dead-lettered jobs wait for a person and are never purged by age, nor is a job
        whose callback is still owed (``wake_at`` set): its receiver has not heard yet.
        """
        query = JobQuery(statuses=tuple(sorted(TERMINAL)), updated_before=settled_before)
        found = self._find(query, batch, None, True)
        return self._delete([job.id for job in found if job.wake_at is None])

    def erase_containing(self, needle: str, *, batch: int = 500) -> list[str]:
        """Delete every job whose input, result, attempts or trace mention ``needle``."""
        erased: list[str] = []
        while ids := self._ids_containing(needle, batch):
            self._delete(ids)
            erased.extend(ids)
        return erased

    def stranded(self, older_than: timedelta) -> list[Job]:
        """Queued jobs whose message was never confirmed sent (the broker was down)."""
        query = JobQuery(
            statuses=(JobStatus.QUEUED,),
            fields=(("sent_at", None),),
            created_before=utcnow() - older_than,
        )
        return self._find(query, 500, None, True)

    def undelivered(self, quiet_for: timedelta) -> list[Job]:
        """Queued jobs, sent or not, that nothing has touched for ``quiet_for``."""
        query = JobQuery(statuses=(JobStatus.QUEUED,), updated_before=utcnow() - quiet_for)
        return self._find(query, 500, None, True)

    def due(self, now: datetime, limit: int = 500) -> list[Job]:
        """Jobs whose ``wake_at`` has come: scheduled ones to queue, callbacks to send."""
        return self._find(JobQuery(wake_before=now), limit, None, True)

    def abandoned(self, quiet_for: timedelta) -> list[Job]:
        """Running or retrying jobs that nothing has touched for ``quiet_for``."""
        query = JobQuery(
            statuses=(JobStatus.RUNNING, JobStatus.RETRYING),
            updated_before=utcnow() - quiet_for,
        )
        return self._find(query, 500, None, True)


__all__ = [
    "ConcurrentUpdate",
    "IdempotencyConflict",
    "IllegalTransition",
    "InvalidCursor",
    "JobNotFound",
    "JobQuery",
    "JobStore",
    "format_time",
]
