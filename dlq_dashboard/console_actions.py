"""The console's actions on one job: cancel it, or run it again. Reviewer and up.

Cancel moves a queued or retrying job to ``cancelled`` compare-and-set (the store's
:meth:`~sluice.stores.base.JobStore.cancel`, as the API's cancel does); a message still in
the broker finds the job settled and is dropped unrun. Re-run of a dead job is the DLQ's
redrive (:func:`libs.dead_letter.actions.requeue`); re-run of a job that ended otherwise
(succeeded, cancelled, resolved, discarded) stores a NEW job with the same kind, input and
tenant, ``redriven_from`` the old one, under an idempotency key tied to the version the
page showed, so a double submit makes one job. Both refuse a stale page and both audit.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dlq_dashboard.auth import CsrfChecked, Reviewer, ServicesDep
from dlq_dashboard.console import job_context, load_visible, not_found
from dlq_dashboard.job_view import RERUNNABLE
from dlq_dashboard.services import Services
from dlq_dashboard.users import User
from dlq_dashboard.views import render
from libs.dead_letter import actions as dead_letter
from libs.dead_letter.claims import ClaimRefused
from schemas.job import DEAD_LETTERED, IllegalTransition, Job
from sluice.enqueue import send
from sluice.errors import UnknownKind
from sluice.kinds import loaded_kinds
from sluice.stores import ConcurrentUpdate, IdempotencyConflict

router = APIRouter()


class RerunRefused(Exception):
    """The job cannot be run again from here; the message says why."""


def _refuse(request: Request, svc: Services, job: Job, user: User, message: str,
            status_code: int = 409) -> Response:
    current = svc.store.get(job.id)
    return render(request, "job.html", job_context(svc, current, user, message),
                  status_code=status_code)


async def _version(request: Request) -> int | None:
    value = (await request.form()).get("version")
    return int(value) if isinstance(value, str) and value.isdigit() else None


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    job = load_visible(svc, job_id, user)
    if job is None:
        return not_found(request, job_id)
    try:
        cancelled = svc.store.cancel(job_id)
    except IllegalTransition as exc:
        return _refuse(request, svc, job, user, f"Not cancelled: the job is {exc.current}.")
    svc.audit.append(user.name, "cancel", job_id, version=cancelled.version)
    svc.overview.clear()
    return RedirectResponse(f"/jobs/{job_id}?flash=cancelled", status_code=303)


def rerun_ended(svc: Services, job: Job, by: str, version: int | None) -> Job:
    """A new job with ``job``'s kind, input and tenant; refuses internal or unknown kinds."""
    if job.status not in RERUNNABLE:
        raise RerunRefused(f"a {job.status} job is not run again from here")
    if version is not None and version != job.version:
        raise RerunRefused("the job changed since the page was shown; look again")
    try:
        spec = loaded_kinds().spec(job.kind)
    except UnknownKind:
        raise RerunRefused(f"this dashboard does not know the kind {job.kind!r}") from None
    if not spec.submittable:
        raise RerunRefused(f"{job.kind} is an internal kind; re-run the job that made it")
    candidate = Job(
        kind=job.kind, input=dict(job.input), idempotency_key=f"rerun:{job.id}:{job.version}",
        max_deliveries=svc.settings.max_deliveries, task_id=uuid.uuid4().hex,
        redriven_from=job.id, schema_name=job.schema_name, schema_version=job.schema_version,
        tenant=job.tenant, api_key_id=job.api_key_id,
    )
    new, created = svc.store.create(candidate)
    if new.redriven_from != job.id:
        raise IdempotencyConflict(new)
    if created:
        svc.store.update_fields(job.id, redriven_to=new.id)
    if new.sent_at is None:
        new = send(new, store=svc.store, celery=svc.celery, settings=svc.settings)
    return new


@router.post("/jobs/{job_id}/rerun")
async def rerun_job(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    job = load_visible(svc, job_id, user)
    if job is None:
        return not_found(request, job_id)
    version = await _version(request)
    try:
        if job.status in DEAD_LETTERED:
            new = dead_letter.requeue(svc.store, svc.celery, svc.settings, job_id,
                                      by=user.name, expected_version=version)
        else:
            new = rerun_ended(svc, job, user.name, version)
    except (RerunRefused, ClaimRefused) as exc:
        return _refuse(request, svc, job, user, f"Not re-run: {exc}.")
    except (IllegalTransition, ConcurrentUpdate, IdempotencyConflict):
        return _refuse(request, svc, job, user,
                       "Not re-run: the job changed since the page was shown; look again.")
    svc.audit.append(user.name, "rerun", job_id, redriven_to=new.id)
    svc.group_counts.clear()
    svc.overview.clear()
    return RedirectResponse(f"/jobs/{new.id}?flash=rerun", status_code=303)
