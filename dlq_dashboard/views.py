"""The pages: sign-in, the queue, one item, the audit log, the training export.

Everything is rendered on the server; htmx only refreshes the queue under new filters
and keeps an open item's lease alive. Templates autoescape every value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from dlq_dashboard.acceptance_view import (
    acceptance_view,
    check_messages,
    rules_of,
    starting_record,
    verdict_of,
)
from dlq_dashboard.attempts import attempt_views, best_attempt
from dlq_dashboard.auth import Reviewer, ServicesDep, SessionDep, Viewer
from dlq_dashboard.queue import (
    BadFilter,
    QueueFilter,
    age_hours,
    age_text,
    neighbours,
    page,
)
from dlq_dashboard.record_form import FormField, build_form
from dlq_dashboard.services import Services
from dlq_dashboard.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, tokens_match
from dlq_dashboard.source import source_view
from dlq_dashboard.training import training_lines
from dlq_dashboard.users import Role, User
from libs.dead_letter.claims import lease_live
from schemas.job import DEAD_LETTERED, DeadReason, Job, JobStatus, utcnow
from schemas.registry import SchemaEntry, UnknownSchema, get_schema, schema_names
from sluice.stores import InvalidCursor, JobNotFound

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# Reasons a reviewer may give for discarding; "other" asks for a note.
DISCARD_REASONS = (
    "spam or marketing",
    "duplicate of another item",
    "not a support request",
    "source unreadable",
    "test or internal message",
    "other",
)
FLASH = {
    "resolved": "Resolved: the record is on its way to the sinks.",
    "requeued": "Re-run queued as a new job.",
    "discarded": "Discarded.",
    "released": "Claim released.",
    "skipped": "Skipped.",
    "bulk": "Bulk action done.",
    "signed-out": "Signed out.",
    "cancelled": "Cancelled.",
    "rerun": "Re-run: this is the new job.",
}
VERSION_INPUTS = ("v-resolve", "v-requeue", "v-discard", "v-skip", "v-release")

router = APIRouter()


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    session: Session | None = None,
) -> HTMLResponse:
    session = session or getattr(request.state, "session", None)
    svc: Services = request.app.state.services
    base = {
        "user": session.user if session else None,
        "csrf": session.csrf_token if session else "",
        "Role": Role,
        "settings": svc.settings,
        "flash": FLASH.get(request.query_params.get("flash", "")),
    }
    return TEMPLATES.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )


def safe_next(target: str | None) -> str:
    """Only local paths: a crafted ``next`` must not send anyone elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# ---- sign-in -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", error: str = "") -> Response:
    import secrets

    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", {"login_csrf": token, "next": safe_next(next), "error": error}
    )
    svc: Services = request.app.state.services
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
        secure=svc.settings.dashboard_secure_cookies, max_age=3600,
    )
    return response


@router.post("/login")
def login(
    request: Request,
    svc: ServicesDep,
    username: str = Form(""),
    password: str = Form(""),
    csrf_token: str = Form(""),
    next: str = Form("/"),
) -> Response:
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return RedirectResponse("/login?error=expired", status_code=303)
    name = username.strip()[:64]
    address = request.client.host if request.client else "?"
    verdict = svc.sign_in_throttle.check(name, address)
    if not verdict.allowed:
        if verdict.first_refusal:
            svc.audit.append(name or "?", "sign_in_throttled")
        refused = render(request, "login.html", {
            "login_csrf": csrf_token, "next": safe_next(next), "error": "throttled",
        }, status_code=429)
        refused.headers["Retry-After"] = str(int(verdict.retry_after))
        return refused
    user = svc.users.authenticate(username.strip(), password)
    if user is None:
        svc.sign_in_throttle.failed(name, address)
        svc.audit.append(name or "?", "sign_in_failed")
        query = urlencode({"error": "wrong", "next": safe_next(next)})
        return RedirectResponse(f"/login?{query}", status_code=303)
    svc.sign_in_throttle.succeeded(name)
    token = svc.sessions.create(user)
    svc.audit.append(user.name, "sign_in")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict",
        secure=svc.settings.dashboard_secure_cookies,
        max_age=int(svc.settings.dashboard_session_hours * 3600),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


# ---- the queue ------------------------------------------------------------------------------


def _row(job: Job, sla_hours: float) -> dict[str, Any]:
    hours = age_hours(job)
    view = source_view(job)
    return {
        "job": job,
        "age": age_text(hours),
        "age_class": "over" if hours >= sla_hours else ("near" if hours >= sla_hours * 0.75
                                                         else "ok"),
        "subject": view.subject,
        "sender": job.input.get("sender") or view.sender,
        "source": job.input.get("source"),
        "lease_live": lease_live(job),
    }


@router.get("/", response_class=HTMLResponse)
def queue_page(request: Request, svc: ServicesDep, user: Viewer, cursor: str = "") -> Response:
    current = QueueFilter.from_params(request.query_params)
    try:
        result = page(svc.store, current, cursor or None)
        groups = svc.group_counts.get(svc.store, current)
        total = svc.store.count(current.query())
    except (BadFilter, InvalidCursor) as exc:
        return render(request, "error.html", {"message": str(exc)}, status_code=400)
    rows = [_row(job, svc.settings.dashboard_sla_hours) for job in result.items]
    return render(
        request,
        "queue.html",
        {
            "filter": current,
            "filter_query": urlencode(current.params()),
            "rows": rows,
            "groups": groups,
            "total": total,
            "next_cursor": result.next_cursor,
            "cursor": cursor,
            "reasons": [reason.value for reason in DeadReason],
            "schemas": schema_names(),
            "discard_reasons": DISCARD_REASONS,
            "urlencode": urlencode,
        },
    )


# ---- one item -------------------------------------------------------------------------------


def schema_for(job: Job) -> SchemaEntry | None:
    name = job.schema_name or job.input.get("schema")
    if not name:
        return None
    try:
        return get_schema(str(name), job.schema_version)
    except UnknownSchema:
        return None


def _first_failing(fields: list[FormField]) -> FormField | None:
    for form_field in fields:
        if form_field.error and form_field.widget not in ("group", "list"):
            return form_field
        found = _first_failing(form_field.children)
        if found is not None:
            return found
    return None


def _first_input(fields: list[FormField]) -> FormField | None:
    for form_field in fields:
        if form_field.widget not in ("group", "list"):
            return form_field
        found = _first_input(form_field.children)
        if found is not None:
            return found
    return None


def item_context(
    svc: Services,
    request: Request,
    job: Job,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    record_error: str | None = None,
) -> dict[str, Any]:
    current = QueueFilter.from_params(request.query_params)
    attempts = attempt_views(job.attempts)
    best = best_attempt(attempts)
    entry = schema_for(job)
    source = source_view(job)
    verdict = verdict_of(job)
    from_headers: dict[str, str] = {}
    if errors is None:
        last = best or (attempts[-1] if attempts else None)
        errors = {e["path"]: e["msg"] for e in last.errors} if last else {}
        errors = {**check_messages(verdict), **errors}
    if values is None and entry is not None:
        values, from_headers = starting_record(
            verdict, best.parsed if best else None, entry.model, rules_of(entry.model),
            sender=source.sender, subject=source.subject, failing=list(errors),
        )
    fields = build_form(entry.model, values, errors) if entry else []
    mine = job.status is JobStatus.CLAIMED and job.claimed_by == user.name
    focus = (_first_failing(fields) or _first_input(fields)) if mine else None
    previous_id, next_id = neighbours(svc.store, current, job)
    query = urlencode(current.params())
    suffix = f"?{query}" if query else ""
    return {
        "job": job,
        "filter_query": query,
        "suffix": suffix,
        "attempts": attempts,
        "best": best,
        "schema": entry,
        "fields": fields,
        "focus_path": focus.path if focus else None,
        "mine": mine,
        "held_by_other": job.status is JobStatus.CLAIMED and not mine,
        "lease_live": lease_live(job),
        "can_act": user.can(Role.REVIEWER),
        "is_admin": user.can(Role.ADMIN),
        "source": source,
        "gate": acceptance_view(verdict) if verdict is not None else None,
        "from_headers": from_headers,
        "audit": svc.audit.for_job(job.id),
        "excluded": svc.exclusions.excluded(job.id),
        "previous_url": f"/items/{previous_id}{suffix}" if previous_id else None,
        "next_url": f"/items/{next_id}{suffix}" if next_id else None,
        "message": message,
        "record_error": record_error,
        "discard_reasons": DISCARD_REASONS,
        "version_inputs": VERSION_INPUTS,
        "now": utcnow(),
        "dead_lettered": job.status in DEAD_LETTERED,
    }


@router.get("/items/{job_id}", response_class=HTMLResponse)
def item_page(request: Request, job_id: str, svc: ServicesDep, user: Viewer) -> Response:
    try:
        job = svc.store.get(job_id)
    except JobNotFound:
        return render(request, "error.html", {"message": f"no item {job_id}"}, status_code=404)
    return render(request, "item.html", item_context(svc, request, job, user))


@router.get("/items/{job_id}/lease", response_class=HTMLResponse)
def lease_fragment(request: Request, job_id: str, svc: ServicesDep, user: Viewer) -> Response:
    job = svc.store.get(job_id)
    return render(request, "_lease.html", lease_context(job, user, None))


def lease_context(job: Job, user: User, message: str | None) -> dict[str, Any]:
    mine = job.status is JobStatus.CLAIMED and job.claimed_by == user.name
    return {
        "job": job,
        "mine": mine,
        "lease_live": lease_live(job),
        "lease_message": message,
        "version_inputs": VERSION_INPUTS,
        "oob": True,
    }


# ---- audit and export -----------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, svc: ServicesDep, user: Viewer, before: int = 0) -> Response:
    entries = svc.audit.recent(100, before or None)
    return render(request, "audit.html", {"entries": entries})


@router.get("/export/training.jsonl")
def training_export(svc: ServicesDep, user: Reviewer) -> Response:
    return StreamingResponse(
        training_lines(svc.store, svc.audit, svc.exclusions),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="training.jsonl"'},
    )


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def signed_in(session: SessionDep) -> Session:
    return session
