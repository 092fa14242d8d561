"""The job record (claim check) and its state machine.

A Celery message carries only ``job_id``; everything else about a job lives here, in the
store. Status changes go through :func:`check_transition`, the single definition of which
moves are legal, and the stores apply them compare-and-set, so a duplicate delivery can
never move a job backwards.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from schemas.acceptance import AcceptanceVerdict
from schemas.attempt import Attempt
from schemas.principal import DEFAULT_TENANT


class JobStatus(StrEnum):
    # Held in the store until ``run_at``; the kernel's due sweep queues it then.
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    REQUEUED = "requeued"
    DISCARDED = "discarded"
    CANCELLED = "cancelled"


class DeadReason(StrEnum):
    EXHAUSTED = "exhausted"
    NON_RETRYABLE = "non_retryable"
    POISON = "poison"
    WORKER_LOST = "worker_lost"
    BUDGET = "budget"
    INVALID_INPUT = "invalid_input"
    # A schema-valid record the acceptance gate could not verify (or found ambiguous).
    UNVERIFIED = "unverified"


_S = JobStatus
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    # scheduled -> queued when run_at comes (sluice.due); cancellable while it waits.
    _S.SCHEDULED: frozenset({_S.QUEUED, _S.CANCELLED}),
    # queued -> dead: a delivery past max_deliveries, or input refused before running.
    _S.QUEUED: frozenset({_S.RUNNING, _S.CANCELLED, _S.DEAD}),
    # running -> running is a redelivery of the same message after its worker was lost.
    _S.RUNNING: frozenset({_S.RUNNING, _S.SUCCEEDED, _S.RETRYING, _S.DEAD}),
    _S.RETRYING: frozenset({_S.RUNNING, _S.CANCELLED, _S.DEAD}),
    _S.DEAD: frozenset({_S.CLAIMED, _S.RESOLVED, _S.REQUEUED, _S.DISCARDED}),
    # claimed -> dead releases a reviewer's claim without acting on it.
    _S.CLAIMED: frozenset({_S.DEAD, _S.RESOLVED, _S.REQUEUED, _S.DISCARDED}),
    _S.SUCCEEDED: frozenset(),
    _S.RESOLVED: frozenset(),
    _S.REQUEUED: frozenset(),
    _S.DISCARDED: frozenset(),
    _S.CANCELLED: frozenset(),
}

TERMINAL: frozenset[JobStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
"""States a job never leaves at all: succeeded, resolved, requeued, discarded, cancelled."""

# States a broker message may still be on its way for.
DELIVERABLE: frozenset[JobStatus] = frozenset({_S.QUEUED, _S.RETRYING, _S.RUNNING})

DEAD_LETTERED: frozenset[JobStatus] = frozenset({_S.DEAD, _S.CLAIMED})
"""States of the dead-letter queue (dead, claimed): a person has to act on these."""

SETTLED: frozenset[JobStatus] = TERMINAL | DEAD_LETTERED
"""States a job never leaves by itself: :data:`TERMINAL` plus :data:`DEAD_LETTERED`.

No worker moves a settled job again; only a person's dead-letter action (requeue, resolve,
discard) can. A caller waiting for a job's outcome waits until it is settled; "terminal"
is the narrower meaning (no move at all) and is not what a waiter wants.
"""


class IllegalTransition(Exception):
    """A status change the state machine does not allow; nothing was changed."""

    def __init__(self, job_id: str, current: JobStatus, target: JobStatus) -> None:
        super().__init__(f"job {job_id}: cannot move from {current} to {target}")
        self.job_id = job_id
        self.current = current
        self.target = target


def check_transition(job_id: str, current: JobStatus, target: JobStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(job_id, current, target)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_job_id() -> str:
    return uuid.uuid4().hex


class TraceStep(BaseModel):
    """One timed step of a job's work (``retrieval``, ``llm_generation``, ...)."""

    name: str
    started_at: datetime
    duration_ms: float
    attrs: dict[str, Any] = Field(default_factory=dict)


class SinkDeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


class SinkDelivery(BaseModel):
    """Where the delivery of a job's record to one sink stands (``Job.sink_deliveries``)."""

    status: SinkDeliveryStatus = SinkDeliveryStatus.PENDING
    # The ``sink.deliver`` job that carries the record; None while written in place.
    delivery_job: str | None = None
    attempts: int = 0
    last_error: str | None = None
    queued_at: datetime | None = None
    delivered_at: datetime | None = None
    # Written by the extraction worker itself (a local sink), not by a delivery job.
    in_place: bool = False


class JobPriority(StrEnum):
    """Which jobs a worker takes first from one queue (see docs/kernel.md, Priorities)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class CallbackStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


class CallbackDelivery(BaseModel):
    """One POST of the job's summary to its ``callback_url`` (``Job.callbacks``).

    One is added each time the job settles (succeeded, dead, cancelled, and a dead job's
    resolve, requeue or discard); ``delivery_id`` is the same on every try of it, so the
    receiver drops a repeat.
    """

    delivery_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    # The job status this delivery reports.
    event: JobStatus
    status: CallbackStatus = CallbackStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    last_http_status: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    # When the kernel's due sweep (re)sends it: at once when added, after a send the end
    # of a lease (so a lost message is sent again), None once delivered or failed.
    due_at: datetime | None = None


class AuditEntry(BaseModel):
    """One dead-letter action on the job record (``Job.audit``): who, when, what, why."""

    action: str  # requeue | discard | resolve
    by: str | None = None
    at: datetime = Field(default_factory=utcnow)
    reason: str | None = None  # a discard's reason
    hint: str | None = None  # a requeue's note for the model
    redriven_to: str | None = None
    input_edited: bool | None = None


class Job(BaseModel):
    id: str = Field(default_factory=new_job_id)
    kind: str
    input: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = None
    status: JobStatus = JobStatus.QUEUED
    reason: DeadReason | None = None
    error: str | None = None
    # Every broker delivery, counted before the task body runs.
    deliveries: int = 0
    # Messages sent by Celery's retry; deliveries - retries is how often the
    # current message has been delivered, which is what the poison cap bounds.
    retries: int = 0
    max_deliveries: int = 5
    # The broker message that currently speaks for this job; a delivery of any
    # other message id is stale and is dropped.
    task_id: str | None = None
    sent_at: datetime | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    result: Any = None
    trace: list[TraceStep] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    redriven_from: str | None = None
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    # When the current claim began: the dashboard shows it and times the review from it.
    claimed_at: datetime | None = None
    # Extraction: the schema the record is validated by, and the sorted (loc, type) pairs
    # of the last failure, which groups dead jobs that failed the same way.
    schema_name: str | None = None
    schema_version: int | None = None
    error_signature: str | None = None
    # Per sink name, where the delivery of the record stands.
    sink_deliveries: dict[str, SinkDelivery] = Field(default_factory=dict)
    # The job this one was redriven as (set on the old job by a requeue).
    redriven_to: str | None = None
    # Dead-letter actions, oldest first.
    audit: list[AuditEntry] = Field(default_factory=list)
    # Retries that waited for an LLM budget window or the kill switch: not faults, so they
    # never count toward max_retries (they do count in ``retries``, for the poison cap).
    waits: int = 0
    # The API key (its id, never the key) that submitted the job: per-key LLM budgets.
    api_key_id: str | None = None
    # Whose job it is: only principals of this tenant (or operators) see it; a redrive
    # keeps it. Jobs written before tenants existed belong to the default tenant.
    tenant: str = DEFAULT_TENANT
    # Extraction: the acceptance gate's verdict (checks per field, regions, evidence quotes).
    acceptance: AcceptanceVerdict | None = None
    # Which jobs a worker takes first from the same queue.
    priority: JobPriority = JobPriority.NORMAL
    # Steps the job was moved up after waiting SLUICE_PRIORITY_AGING_SECONDS (starvation).
    priority_boosts: int = 0
    # A scheduled job (status ``scheduled``) is queued at this time, not before.
    run_at: datetime | None = None
    # Where the job's summary is POSTed, signed, each time it settles (``callbacks``).
    callback_url: str | None = None
    callbacks: list[CallbackDelivery] = Field(default_factory=list)
    version: int = 0

    @field_validator("attempts", mode="before")
    @classmethod
    def _number_unnumbered(cls, value: Any) -> Any:
        """Older rows may lack an attempt's number: its place in the ledger is its number."""
        if not isinstance(value, list):
            return value
        return [
            {"number": index + 1, **item} if isinstance(item, dict) and not item.get("number")
            else item
            for index, item in enumerate(value)
        ]

    @field_validator("run_at")
    @classmethod
    def _run_at_in_utc(cls, value: datetime | None) -> datetime | None:
        """Stores index ``wake_at`` as UTC text; a naive time is taken as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("run_at is out of range") from None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def settled(self) -> bool:
        """No worker moves this job again; see :data:`SETTLED`."""
        return self.status in SETTLED

    @property
    def current_message_deliveries(self) -> int:
        return self.deliveries - self.retries

    @property
    def wake_at(self) -> datetime | None:
        """When the kernel's due sweep must next look at this job: a scheduled job's
        ``run_at``, or the earliest ``due_at`` of its callbacks; None when never. Stores
        keep it in an indexed column (``wake_at``), so the sweep reads only what is due."""
        times = [callback.due_at for callback in self.callbacks if callback.due_at is not None]
        if self.status is JobStatus.SCHEDULED and self.run_at is not None:
            times.append(self.run_at)
        return min(times, default=None)


class JobPage(BaseModel):
    items: list[Job]
    next_cursor: str | None = None
