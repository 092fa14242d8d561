"""Bulk submit: ``POST /v1/jobs:batch`` takes up to ``SLUICE_MAX_BATCH_JOBS`` jobs at once.

Each item is submitted on its own, exactly as ``POST /v1/jobs`` would submit it, with its
own idempotency key, and answered on its own: 201 created, 200 an idempotency key already
known (the job it made), 409 a key that belongs to another kind or input, 422 refused at
the door (unknown kind, bad input, a callback host not allowed). One item's refusal never
stops the others; a client retries the whole batch safely when every item has a key.
The request as a whole is refused only when it cannot be read, is too long, or is over the
key's submission rate (which counts every item).
"""

from __future__ import annotations

import json

from celery import Celery
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from producers.api.auth import Submitter
from producers.api.dependencies import CeleryDep, SettingsDep, StoreDep
from producers.api.jobs import JobRequest, submit_request
from producers.api.rate_limit import take
from producers.api.responses import problem
from schemas.job_batch import BatchItem, BatchResult
from schemas.principal import Principal
from sluice.settings import Settings
from sluice.stores import JobStore

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

# The hard cap of the schema; SLUICE_MAX_BATCH_JOBS may only lower it.
SCHEMA_MAX_JOBS = 1000


class BatchRequest(BaseModel):
    jobs: list[JobRequest] = Field(
        min_length=1, max_length=SCHEMA_MAX_JOBS,
        description="The jobs, each as for POST /v1/jobs; at most SLUICE_MAX_BATCH_JOBS.",
    )


@router.post(":batch", response_model=BatchResult)
def create_jobs(
    body: BatchRequest,
    caller: Submitter,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
    request: Request,
) -> BatchResult:
    """Submit several jobs; every item gets its own result (see ``items[].status``)."""
    if len(body.jobs) > settings.max_batch_jobs:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{
            "loc": ["body", "jobs"], "type": "too_long",
            "msg": f"at most {settings.max_batch_jobs} jobs (SLUICE_MAX_BATCH_JOBS)",
        }])
    decision = take(settings, caller.key_id, cost=len(body.jobs))
    if not decision.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"submission rate limit of {settings.submit_rate_per_minute}/minute for "
            f"this key; {len(body.jobs)} jobs: retry in {decision.retry_after_seconds}s",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )
    items = [
        _submit_item(index, item, caller, store, celery, settings, request)
        for index, item in enumerate(body.jobs)
    ]
    return BatchResult(
        items=items,
        created=sum(item.status == status.HTTP_201_CREATED for item in items),
        existing=sum(item.status == status.HTTP_200_OK for item in items),
        failed=sum(item.job is None for item in items),
    )


def _submit_item(
    index: int, item: JobRequest, caller: Principal, store: JobStore, celery: Celery,
    settings: Settings, request: Request,
) -> BatchItem:
    try:
        job, created = submit_request(item, caller, store, celery, settings,
                                      request.app.state.kinds, at=("body", "jobs", index))
    except HTTPException as exc:
        answer = problem(exc.status_code, exc.detail)
        return BatchItem(index=index, status=exc.status_code, error=json.loads(bytes(answer.body)))
    return BatchItem(index=index, status=201 if created else 200, job=job, error=None)
