"""The operators' console: every job (not only dead ones), one job live, the overview.

Viewer and up. Pages are rendered on the server; htmx refreshes the counts per status and
the overview's figures on a timer, and the job page listens to the job's own event stream
(``/jobs/{id}/events``, relayed from Redis by :mod:`libs.web.job_event_stream`) and
re-fetches its live part at each new version. Every read goes through the user's principal,
so a principal bound to a tenant sees that tenant's jobs alone (another's is a 404).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dlq_dashboard.attempts import attempt_views
from dlq_dashboard.auth import ServicesDep, Viewer
from dlq_dashboard.job_view import input_text, job_actions, lifecycle, timeline
from dlq_dashboard.jobs_filter import (
    AGES,
    COUNT_CAP,
    BadJobsFilter,
    JobsFilter,
    jobs_page,
    status_counts,
    visible_to,
)
from dlq_dashboard.queue import age_hours, age_text
from dlq_dashboard.services import Services
from dlq_dashboard.users import Role, User
from dlq_dashboard.views import render
from libs.access.checks import dashboard_principal
from libs.web.job_event_stream import SSE_HEADERS, relay
from schemas.job import Job, JobStatus
from schemas.principal import Principal
from sluice.kinds import loaded_kinds
from sluice.stores import InvalidCursor, JobNotFound

router = APIRouter()


def principal_of(user: User) -> Principal:
    return dashboard_principal(user.name, user.role.value)


def _kinds() -> list[str]:
    try:
        return sorted(loaded_kinds())
    except Exception:  # kinds not loaded in this process: the field stays free text
        return []


def _row(job: Job) -> dict[str, Any]:
    return {"job": job, "age": age_text(age_hours(job)), "source": job.input.get("source")}


def _counts_context(svc: Services, current: JobsFilter, viewer: Principal) -> dict[str, Any]:
    return {
        "counts": status_counts(svc.store, current, viewer),
        "cap": COUNT_CAP,
        "filter": current,
        "urlencode": urlencode,
    }


@router.get("/jobs", response_class=HTMLResponse)
def jobs_list(request: Request, svc: ServicesDep, user: Viewer, cursor: str = "") -> Response:
    viewer = principal_of(user)
    try:
        current = JobsFilter.from_params(request.query_params)
        result = jobs_page(svc.store, current, viewer, cursor or None)
    except (BadJobsFilter, InvalidCursor) as exc:
        return render(request, "error.html", {"message": str(exc)}, status_code=400)
    return render(request, "jobs.html", {
        **_counts_context(svc, current, viewer),
        "rows": [_row(job) for job in result.items],
        "next_cursor": result.next_cursor,
        "cursor": cursor,
        "statuses": [status.value for status in JobStatus],
        "ages": AGES,
        "kinds": _kinds(),
    })


@router.get("/jobs/counts", response_class=HTMLResponse)
def jobs_counts(request: Request, svc: ServicesDep, user: Viewer) -> Response:
    """The counts per status alone, which the list page re-fetches every few seconds."""
    try:
        current = JobsFilter.from_params(request.query_params)
    except BadJobsFilter as exc:
        return render(request, "error.html", {"message": str(exc)}, status_code=400)
    return render(request, "_job_counts.html", _counts_context(svc, current, principal_of(user)))


def load_visible(svc: Services, job_id: str, user: User) -> Job | None:
    """The job if it exists and the user's principal may see it; None reads as a 404."""
    try:
        job = svc.store.get(job_id)
    except JobNotFound:
        return None
    return job if visible_to(principal_of(user), job) else None


def job_context(svc: Services, job: Job, user: User, message: str | None = None
                ) -> dict[str, Any]:
    return {
        "job": job,
        "input_text": input_text(job),
        "attempts": attempt_views(job.attempts),
        "timeline": timeline(job),
        "lifecycle": lifecycle(job),
        "sink_deliveries": sorted(job.sink_deliveries.items()),
        "allowed": job_actions(job),
        "can_act": user.can(Role.REVIEWER),
        "audit": svc.audit.for_job(job.id),
        "message": message,
    }


def not_found(request: Request, job_id: str) -> Response:
    return render(request, "error.html", {"message": f"no job {job_id}"}, status_code=404)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, svc: ServicesDep, user: Viewer) -> Response:
    job = load_visible(svc, job_id, user)
    if job is None:
        return not_found(request, job_id)
    return render(request, "job.html", job_context(svc, job, user))


def _after_version(last_event_id: str | None) -> int:
    """The version a reconnecting browser saw last; anything unreadable starts afresh."""
    try:
        return int(last_event_id or -1)
    except ValueError:
        return -1


def _end_data(job: Job) -> str:
    # The browser only needs to know the job settled; it re-fetches the page part itself,
    # so the stream never carries the input.
    return json.dumps({"id": job.id, "status": job.status.value})


@router.get("/jobs/{job_id}/events")
async def job_events(
    request: Request, job_id: str, svc: ServicesDep, user: Viewer,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> Response:
    """Server-sent events: a ``job`` event per new version, then ``end`` once it settles."""
    job = await run_in_threadpool(load_visible, svc, job_id, user)
    if job is None:
        return Response("no such job", status_code=404, media_type="text/plain")
    stream = relay(request, svc.store, svc.settings, job_id, _after_version(last_event_id),
                   _end_data)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/overview", response_class=HTMLResponse)
def overview_page(request: Request, svc: ServicesDep, user: Viewer) -> Response:
    overview = svc.overview.get(svc.store, svc.settings)
    return render(request, "overview.html", {"overview": overview, "age_text": age_text})
