"""Acting on dead-lettered jobs: requeue, discard, resolve. Used by the API, CLI and dashboard.

Every action accepts a job that is ``dead`` or ``claimed`` (the dashboard claims a job
before a reviewer acts on it), moves it compare-and-set, clears the claim, and appends an
audit entry (who, when, why). Nothing is deleted: a requeue leaves the old job ``requeued``
with every attempt on record and starts a NEW job (``redriven_from``) with a new attempt
series; a resolution keeps the corrected record as the job's result and pushes it to the
sinks exactly once (the job id is the idempotency key).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from celery import Celery
from pydantic import ValidationError

from libs.dead_letter import claims
from libs.sinks.push import push_to_sinks
from schemas.job import DEAD_LETTERED, AuditEntry, IllegalTransition, Job, JobStatus, utcnow
from schemas.registry import SchemaEntry, UnknownSchema, get_schema, load_schemas
from sluice.enqueue import send
from sluice.errors import InputNotEditable
from sluice.kinds import loaded_kinds
from sluice.settings import Settings
from sluice.stores import ConcurrentUpdate, IdempotencyConflict, JobStore


class NotDeadLettered(IllegalTransition):
    """The job is not in the dead-letter queue (not ``dead`` or ``claimed``)."""


class MissingReason(ValueError):
    """A discard needs a reason a person can read later."""


class NotResolvable(ValueError):
    """The job names no extraction schema, so no record can stand in for its result."""


class InvalidResolution(ValueError):
    """The corrected record fails the job's schema; ``errors`` are pydantic's field errors."""

    def __init__(self, job_id: str, errors: list[dict[str, Any]]) -> None:
        fields = ", ".join(".".join(str(part) for part in e["loc"]) or "record" for e in errors)
        super().__init__(f"job {job_id}: the record is invalid ({fields})")
        self.job_id = job_id
        self.errors = errors


def error_signature(errors: Iterable[Mapping[str, Any]]) -> str:
    """The sorted, distinct ``(loc, type)`` pairs of ``errors`` as one string.

    Jobs that failed the same way share a signature whatever the bad values were, so the
    DLQ groups them: ``customer_email:not_in_source|order_id:string_pattern_mismatch``.
    """
    pairs = {
        (".".join(str(part) for part in error.get("loc", ())) or "$", str(error.get("type", "")))
        for error in errors
    }
    return "|".join(f"{loc}:{kind}" for loc, kind in sorted(pairs))


def _audit(action: str, by: str | None, **details: Any) -> AuditEntry:
    return AuditEntry(action=action, by=by, at=utcnow(), **details)


def _dead_lettered(job: Job, target: JobStatus) -> None:
    if job.status not in DEAD_LETTERED:
        raise NotDeadLettered(job.id, job.status, target)


def _expect(job: Job, expected_version: int | None) -> None:
    if expected_version is not None and job.version != expected_version:
        raise ConcurrentUpdate(f"job {job.id} is at version {job.version}, not {expected_version}")


def _close(
    store: JobStore,
    job_id: str,
    target: JobStatus,
    entry: AuditEntry,
    expected_version: int | None,
    **fields: Any,
) -> Job:
    def change(job: Job) -> Job:
        _expect(job, expected_version)
        _dead_lettered(job, target)
        claims.refuse_if_held_by_another(job, entry.by)
        job.status = target
        job.claimed_by = None
        job.claim_expires_at = None
        job.audit.append(entry)
        job.finished_at = utcnow()
        return Job.model_validate({**job.model_dump(), **fields})

    return store.mutate(job_id, change)


def requeue(
    store: JobStore,
    celery: Celery,
    settings: Settings,
    job_id: str,
    *,
    input: dict[str, Any] | None = None,
    hint: str | None = None,
    by: str | None = None,
    expected_version: int | None = None,
) -> Job:
    """Run a dead job again as a NEW job; returns the new job.

    ``input`` replaces the old input (an edited email, say); ``hint`` is a reviewer's note
    the extraction prompt carries (``input.reviewer_hint``). The new job is stored before
    the old one is closed, under an idempotency key tied to the old job's version, so a
    crash in between leaves a queued job that stranded-job recovery sends, never a gap.
    """
    old = store.get(job_id)
    _expect(old, expected_version)
    _dead_lettered(old, JobStatus.REQUEUED)
    claims.refuse_if_held_by_another(old, by)
    new_input = dict(old.input if input is None else input)
    if hint:
        new_input["reviewer_hint"] = hint
    if input is not None or hint:
        _check_edited_input(old.kind, new_input)
    candidate = Job(
        kind=old.kind,
        input=new_input,
        idempotency_key=f"redrive:{old.id}:{old.version}",
        max_deliveries=settings.max_deliveries,
        task_id=uuid.uuid4().hex,
        redriven_from=old.id,
        schema_name=old.schema_name,
        schema_version=old.schema_version,
        # The redrive is still the same client's work: its tenant, its key's budgets.
        tenant=old.tenant,
        api_key_id=old.api_key_id,
        # ... and told the same way when it settles, at the same priority.
        priority=old.priority,
        callback_url=old.callback_url,
    )
    # A conflict (the key taken by a job that is not this redrive) raises here, before
    # anything changed; the callers answer it as a conflict.
    new, _ = store.create(candidate)
    if new.redriven_from != old.id:
        raise IdempotencyConflict(new)
    entry = _audit("requeue", by, redriven_to=new.id, hint=hint, input_edited=input is not None)
    try:
        _close(store, old.id, JobStatus.REQUEUED, entry, old.version, redriven_to=new.id)
    except (IllegalTransition, ConcurrentUpdate):
        current = store.get(old.id)
        if current.redriven_to != new.id:  # someone else acted first: withdraw ours
            with contextlib.suppress(IllegalTransition):
                store.cancel(new.id)
            raise
    if new.sent_at is None:
        new = send(new, store=store, celery=celery, settings=settings)
    return new


def _check_edited_input(kind: str, edited: dict[str, Any]) -> None:
    """An edited input is held to the kind's model; an internal kind's is never edited (its
    input names another job, and a chosen one could write a record under that job's id)."""
    kinds = loaded_kinds()
    if kind not in kinds:
        return  # a kind no longer installed: the re-run dead-letters as it would have
    spec = kinds.spec(kind)
    if not spec.submittable:
        raise InputNotEditable(kind)
    spec.check_input(edited)


def discard(
    store: JobStore,
    job_id: str,
    *,
    reason: str,
    by: str | None = None,
    expected_version: int | None = None,
) -> Job:
    """Close a dead job for good; ``reason`` is required and kept in the audit trail."""
    if not reason or not reason.strip():
        raise MissingReason(f"job {job_id}: discarding needs a reason")
    entry = _audit("discard", by, reason=reason.strip())
    return _close(store, job_id, JobStatus.DISCARDED, entry, expected_version)


def schema_of(job: Job) -> SchemaEntry:
    """The schema a job's record is validated by: the one it ran with, else its input's."""
    name = job.schema_name or job.input.get("schema")
    if not name:
        raise NotResolvable(f"job {job.id} ({job.kind}) has no extraction schema")
    version = job.schema_version or job.input.get("schema_version")
    try:
        return get_schema(str(name), int(version) if version else None)
    except UnknownSchema as exc:
        raise NotResolvable(f"job {job.id}: {exc}") from exc


def validate_resolution(job: Job, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the job's own schema model dumps it, or :class:`InvalidResolution`.

    No grounding context: a reviewer may know an order number the email never mentioned.
    """
    entry = schema_of(job)
    try:
        model = entry.model.model_validate(dict(record))
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"], "input": _plain(e["input"])}
            for e in exc.errors()
        ]
        raise InvalidResolution(job.id, errors) from None
    return model.model_dump(mode="json")


def resolve(
    store: JobStore,
    celery: Celery,
    settings: Settings,
    job_id: str,
    record: dict[str, Any],
    *,
    by: str | None = None,
    expected_version: int | None = None,
) -> Job:
    """Accept a person's corrected record as the job's result and push it to the sinks.

    Calling it again on a job already resolved with the same record only makes sure the
    sink deliveries exist (a crash between the two steps is repaired this way).
    """
    load_schemas(settings.schemas or None)  # SLUICE_SCHEMAS may come from a .env file
    job = store.get(job_id)
    clean = validate_resolution(job, record)
    if job.status is JobStatus.RESOLVED and job.result == clean:
        return push_to_sinks(store, celery, settings, job, clean)
    _expect(job, expected_version)
    schema = schema_of(job)
    entry = _audit("resolve", by)
    resolved = _close(
        store, job_id, JobStatus.RESOLVED, entry, expected_version or job.version, result=clean,
        schema_name=schema.name, schema_version=schema.version,
    )
    return push_to_sinks(store, celery, settings, resolved, clean)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)
