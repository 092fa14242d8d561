"""The dead-letter queue over HTTP: list, show, requeue, discard, resolve.

The actions are :mod:`libs.dead_letter.actions`'s, the same code the CLI and the dashboard run.
A job is in the queue while it is ``dead`` or ``claimed``; ``GET /v1/dlq/{id}`` still shows
it once acted on (it keeps its dead reason, attempts and audit trail). A caller sees and
acts on its own tenant's items only; the actor in the audit trail is the caller's key
(``api-key:<id>``): a ``by`` in the body is accepted for old clients and ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from libs.access.checks import tenant_filter
from libs.dead_letter import actions as dead_letter
from producers.api.auth import DeadLetterActor, Reader, owned
from producers.api.dependencies import CeleryDep, SettingsDep, StoreDep
from producers.api.overrides import refuse_overrides_above_settings
from schemas.bounded_json import BoundedObject
from schemas.job import DEAD_LETTERED, DeadReason, IllegalTransition, Job, JobPage
from schemas.principal import Principal
from sluice.errors import InputNotEditable, InvalidInput
from sluice.stores import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidCursor,
    JobNotFound,
    JobQuery,
)

router = APIRouter(prefix="/v1/dlq", tags=["dead-letter queue"])


class RequeueRequest(BaseModel):
    input: BoundedObject | None = Field(None, description="Replaces the job's input.")
    hint: str | None = Field(None, max_length=2000, description="A note for the model.")
    by: str | None = Field(None, max_length=200, deprecated=True,
                           description="Ignored: the actor is the caller's API key.")
    expected_version: int | None = None


class DiscardRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    by: str | None = Field(None, max_length=200, deprecated=True,
                           description="Ignored: the actor is the caller's API key.")
    expected_version: int | None = None


class ResolveRequest(BaseModel):
    record: BoundedObject
    by: str | None = Field(None, max_length=200, deprecated=True,
                           description="Ignored: the actor is the caller's API key.")
    expected_version: int | None = None


@router.get("", response_model=JobPage)
def list_dead_letters(
    caller: Reader,
    store: StoreDep,
    reason: DeadReason | None = None,
    schema: str | None = None,
    signature: str | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> JobPage:
    """Dead and claimed jobs, newest first; filter by reason, schema, error signature."""
    fields: list[tuple[str, Any]] = []
    if schema:
        fields.append(("schema_name", schema))
    if signature:
        fields.append(("error_signature", signature))
    query = JobQuery(
        statuses=tuple(sorted(DEAD_LETTERED)), kind=kind, reason=reason, fields=tuple(fields),
        tenant=tenant_filter(caller),
    )
    try:
        return store.list_jobs(query, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc


def _dead_lettered(store: StoreDep, job_id: str, caller: Principal) -> Job:
    try:
        job = store.get(job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    owned(caller, job.tenant, f"job {job_id}")
    if job.reason is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"job {job_id} was never dead")
    return job


def _conflict(exc: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))


def actor(caller: Principal) -> str:
    """Who acted, for the audit trail and claims: the caller's key, never the body's word."""
    return f"api-key:{caller.key_id}"


@router.get("/{job_id}", response_model=Job)
def show_dead_letter(job_id: str, caller: Reader, store: StoreDep) -> Job:
    return _dead_lettered(store, job_id, caller)


@router.post("/{job_id}/requeue", response_model=Job, status_code=status.HTTP_201_CREATED)
def requeue_dead_letter(
    job_id: str,
    body: RequeueRequest,
    caller: DeadLetterActor,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
) -> Job:
    """Run the job again as a new job (``redriven_from`` points back); returns the new job."""
    _dead_lettered(store, job_id, caller)
    if body.input is not None:
        refuse_overrides_above_settings(body.input, settings, caller)
    try:
        return dead_letter.requeue(
            store, celery, settings, job_id, input=body.input, hint=body.hint,
            by=actor(caller), expected_version=body.expected_version,
        )
    except (IllegalTransition, ConcurrentUpdate, IdempotencyConflict) as exc:
        raise _conflict(exc) from exc
    except InputNotEditable as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {"loc": ["body", "input"], "msg": str(exc), "type": "input_not_editable"}
        ]) from exc
    except InvalidInput as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {**error, "loc": ["body", "input", *error["loc"]]} for error in exc.errors
        ]) from exc


@router.post("/{job_id}/discard", response_model=Job)
def discard_dead_letter(
    job_id: str, body: DiscardRequest, caller: DeadLetterActor, store: StoreDep
) -> Job:
    """Close the job for good; the reason is kept in its audit trail."""
    _dead_lettered(store, job_id, caller)
    try:
        return dead_letter.discard(
            store, job_id, reason=body.reason, by=actor(caller),
            expected_version=body.expected_version,
        )
    except dead_letter.MissingReason as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except (IllegalTransition, ConcurrentUpdate) as exc:
        raise _conflict(exc) from exc


@router.post("/{job_id}/resolve", response_model=Job)
def resolve_dead_letter(
    job_id: str,
    body: ResolveRequest,
    caller: DeadLetterActor,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
) -> Job:
    """Accept a corrected record (validated by the job's schema) and deliver it to the sinks.

    422 with pydantic's field errors when the record is invalid.
    """
    _dead_lettered(store, job_id, caller)
    try:
        return dead_letter.resolve(
            store, celery, settings, job_id, body.record, by=actor(caller),
            expected_version=body.expected_version,
        )
    except dead_letter.InvalidResolution as exc:
        detail = [{**error, "loc": ["body", "record", *error["loc"]]} for error in exc.errors]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail) from exc
    except dead_letter.NotResolvable as exc:
        raise _conflict(exc) from exc
    except (IllegalTransition, ConcurrentUpdate) as exc:
        raise _conflict(exc) from exc
