"""Submit, poll, list and cancel jobs: each caller sees only its own tenant's jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from libs.access.checks import client_idempotency_key, tenant_filter
from producers.api.auth import Reader, Submitter, owned
from producers.api.dependencies import CeleryDep, SettingsDep, StoreDep
from producers.api.overrides import refuse_overrides_above_settings
from producers.api.rate_limit import SubmissionAllowed
from schemas.bounded_json import BoundedObject
from schemas.job import IllegalTransition, Job, JobPage, JobStatus
from schemas.principal import Principal
from sluice.enqueue import submit
from sluice.errors import InvalidInput, UnknownKind
from sluice.stores import IdempotencyConflict, InvalidCursor, JobNotFound, JobQuery, JobStore

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


class JobRequest(BaseModel):
    kind: str = Field(min_length=1, max_length=200, examples=["echo"])
    input: BoundedObject = Field(default_factory=dict)
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=255,
        description="Yours alone: kept per tenant (stored as `t:<tenant>:<key>`).",
    )


def _unprocessable(field: str, message: str, value: Any) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", field], "msg": message, "type": "value_error", "input": value}],
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Job,
             responses={200: {"model": Job, "description": "A known idempotency key: the job "
                                                          "it made, nothing enqueued."}})
def create_job(
    body: JobRequest,
    response: Response,
    caller: Submitter,
    _rate: SubmissionAllowed,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
    request: Request,
) -> Job:
    """Store a job and queue it. A known idempotency key returns the existing job with 200."""
    refuse_overrides_above_settings(body.input, settings, caller)
    try:
        job, created = submit(
            body.kind, body.input,
            idempotency_key=client_idempotency_key(caller.tenant, body.idempotency_key),
            store=store, celery=celery, settings=settings, api_key_id=caller.key_id,
            tenant=caller.tenant,
            kinds=request.app.state.kinds,
        )
    except UnknownKind as exc:
        raise _unprocessable("kind", str(exc), body.kind) from exc
    except InvalidInput as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {**error, "loc": ["body", "input", *error["loc"]]} for error in exc.errors
        ]) from exc
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    return job


@router.get("", response_model=JobPage)
def list_jobs(
    caller: Reader,
    store: StoreDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> JobPage:
    """Newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    query = JobQuery(
        statuses=(status_,) if status_ else (), kind=kind, tenant=tenant_filter(caller)
    )
    try:
        return store.list_jobs(query, limit=limit, cursor=cursor)
    except InvalidCursor as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc


def load_job(store: JobStore, job_id: str, caller: Principal) -> Job:
    """The job, or 404 when it does not exist or is another tenant's."""
    try:
        job = store.get(job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    owned(caller, job.tenant, f"job {job_id}")
    return job


@router.get("/{job_id}", response_model=Job)
def get_job(job_id: str, caller: Reader, store: StoreDep) -> Job:
    return load_job(store, job_id, caller)


@router.post("/{job_id}/cancel", response_model=Job)
def cancel_job(job_id: str, caller: Submitter, store: StoreDep) -> Job:
    """Cancel a job that has not started (queued or waiting to retry); 409 otherwise."""
    load_job(store, job_id, caller)
    try:
        return store.cancel(job_id)
    except IllegalTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
