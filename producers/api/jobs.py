"""Submit, poll, list and cancel jobs: each caller sees only its own tenant's jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from celery import Celery
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from libs.access.checks import client_idempotency_key, tenant_filter
from producers.api.auth import Reader, Submitter, owned
from producers.api.dependencies import CeleryDep, SettingsDep, StoreDep
from producers.api.overrides import refuse_overrides_above_settings
from producers.api.rate_limit import SubmissionAllowed
from schemas.bounded_json import BoundedObject
from schemas.job import IllegalTransition, Job, JobPage, JobPriority, JobStatus, utcnow
from schemas.principal import Principal
from sluice.enqueue import submit
from sluice.errors import CallbackNotAllowed, InvalidInput, UnknownKind
from sluice.kinds import KindTable
from sluice.settings import Settings
from sluice.stores import IdempotencyConflict, InvalidCursor, JobNotFound, JobQuery, JobStore

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


MAX_DELAY_SECONDS = 10 * 366 * 24 * 3600  # ten years: longer is a mistake, not a plan


class JobRequest(BaseModel):
    kind: str = Field(min_length=1, max_length=200, examples=["echo"])
    input: BoundedObject = Field(default_factory=dict)
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=255,
        description="Yours alone: kept per tenant (stored as `t:<tenant>:<key>`).",
    )
    priority: JobPriority = Field(
        JobPriority.NORMAL,
        description="Which jobs a worker takes first from the same queue: `high` waits at "
        "most for the task each worker process is running now.",
    )
    run_at: AwareDatetime | None = Field(
        None, description="Hold the job (status `scheduled`) until this time, however far "
        "ahead; cancellable while it waits. Not with `delay_seconds`.",
    )
    delay_seconds: float | None = Field(
        None, ge=0, le=MAX_DELAY_SECONDS,
        description="Hold the job this many seconds (as `run_at`, counted from now).",
    )
    callback_url: str | None = Field(
        None, min_length=1, max_length=2000,
        description="POSTed the job's summary, signed (`Sluice-Signature`), each time it "
        "settles; its host must be on SLUICE_CALLBACK_ALLOWED_HOSTS.",
    )

    @field_validator("run_at")
    @classmethod
    def _run_at_within_reach(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            moment = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("run_at is out of range") from None
        if moment - utcnow() > timedelta(seconds=MAX_DELAY_SECONDS):
            raise ValueError("run_at is more than ten years ahead")
        return moment

    @model_validator(mode="after")
    def _one_way_to_schedule(self) -> JobRequest:
        if self.run_at is not None and self.delay_seconds is not None:
            raise ValueError("give run_at or delay_seconds, not both")
        return self


def _unprocessable(loc: list[str | int], message: str, value: Any) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": loc, "msg": message, "type": "value_error", "input": value}],
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
    """Store a job and queue it (or hold it until ``run_at``). A known idempotency key
    returns the existing job with 200."""
    job, created = submit_request(body, caller, store, celery, settings, request.app.state.kinds)
    if not created:
        response.status_code = status.HTTP_200_OK
    return job


def submit_request(
    body: JobRequest,
    caller: Principal,
    store: JobStore,
    celery: Celery,
    settings: Settings,
    kinds: KindTable,
    *,
    at: tuple[str | int, ...] = ("body",),
) -> tuple[Job, bool]:
    """Submit one request as ``caller``; HTTPException (409, 422) when it is refused.
    ``at`` is where the request sits in the body, for the field errors' ``loc``."""
    refuse_overrides_above_settings(body.input, settings, caller)
    run_at = body.run_at
    if body.delay_seconds is not None:
        run_at = utcnow() + timedelta(seconds=body.delay_seconds)
    try:
        return submit(
            body.kind, body.input,
            idempotency_key=client_idempotency_key(caller.tenant, body.idempotency_key),
            store=store, celery=celery, settings=settings, api_key_id=caller.key_id,
            tenant=caller.tenant, kinds=kinds, priority=body.priority, run_at=run_at,
            callback_url=body.callback_url,
        )
    except UnknownKind as exc:
        raise _unprocessable([*at, "kind"], str(exc), body.kind) from exc
    except CallbackNotAllowed as exc:
        raise _unprocessable([*at, "callback_url"], str(exc), body.callback_url) from exc
    except InvalidInput as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[
            {**error, "loc": [*at, "input", *error["loc"]]} for error in exc.errors
        ]) from exc
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc


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
    """Cancel a job that has not started (scheduled, queued or waiting to retry); 409
    otherwise."""
    load_job(store, job_id, caller)
    try:
        return store.cancel(job_id)
    except IllegalTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
