"""The actions: claim, renew, release, take over, resolve, re-run, discard, skip, bulk.

Each route declares its role and the CSRF check as dependencies, so neither can be
forgotten. Claims go through :mod:`libs.dead_letter.claims`; resolve, re-run and discard through
:mod:`libs.dead_letter.actions` (the same code the API and CLI use), always with the version
the reviewer's page was rendered from, so a stale page is refused instead of merged.
Every action appends to the audit log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dlq_dashboard.acceptance_view import unwrap_record
from dlq_dashboard.attempts import attempt_views, best_attempt, field_changes
from dlq_dashboard.audit import seconds_since
from dlq_dashboard.auth import Admin, CsrfChecked, Reviewer, ServicesDep, SessionDep
from dlq_dashboard.queue import QueueFilter, neighbours
from dlq_dashboard.record_form import read_record
from dlq_dashboard.services import Services
from dlq_dashboard.sessions import SESSION_COOKIE
from dlq_dashboard.users import Role, User
from dlq_dashboard.views import (
    DISCARD_REASONS,
    item_context,
    lease_context,
    render,
    schema_for,
)
from libs.dead_letter import actions as dead_letter
from libs.dead_letter import claims
from schemas.job import DEAD_LETTERED, IllegalTransition, Job, JobStatus
from sluice.errors import InputNotEditable, InvalidInput
from sluice.stores import ConcurrentUpdate, JobNotFound

router = APIRouter()
BULK_ACTIONS = ("discard", "requeue")


class ActionRefused(Exception):
    """An action that cannot go ahead, with the message the reviewer sees."""


def _form_text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _version(form: Any) -> int | None:
    text = _form_text(form, "version")
    return int(text) if text.isdigit() else None


def _item_url(job_id: str, request: Request, **extra: str) -> str:
    params = {**QueueFilter.from_params(request.query_params).params(), **extra}
    return f"/items/{job_id}" + (f"?{urlencode(params)}" if params else "")


def _after_action(svc: Services, request: Request, job: Job, flash: str) -> Response:
    """On to the next item under the same filter, or back to the queue."""
    svc.group_counts.clear()
    current = QueueFilter.from_params(request.query_params)
    _, next_id = neighbours(svc.store, current, job)
    if next_id:
        return RedirectResponse(_item_url(next_id, request, flash=flash), status_code=303)
    params = {**current.params(), "flash": flash}
    return RedirectResponse(f"/?{urlencode(params)}", status_code=303)


def _refuse(
    svc: Services, request: Request, job_id: str, user: User, message: str, status: int = 409
) -> Response:
    job = svc.store.get(job_id)
    return render(
        request, "item.html", item_context(svc, request, job, user, message=message),
        status_code=status,
    )


# Why an action on a held item may not happen: the hold is gone or stale, or the item moved.
_HOLD_LOST = (claims.NotClaimHolder, claims.StaleVersion)
_ITEM_CHANGED = (ConcurrentUpdate, IllegalTransition)


def _not_done(
    svc: Services, request: Request, job_id: str, user: User, what: str, exc: Exception
) -> Response:
    """The item page again, saying why ``what`` ("Not saved") did not happen: 400 when the
    form must change (:class:`ActionRefused`), else 409."""
    if isinstance(exc, ActionRefused):
        return _refuse(svc, request, job_id, user, f"{what}: {exc}.", 400)
    if isinstance(exc, _ITEM_CHANGED):
        return _refuse(svc, request, job_id, user, f"{what}: this item changed ({exc}).")
    return _refuse(svc, request, job_id, user, f"{what}: {exc}.")


def _mark_do_not_train(svc: Services, job_id: str, user: User) -> None:
    svc.exclusions.mark(job_id, user.name)
    svc.audit.append(user.name, "do_not_train", job_id)


def _get(svc: Services, job_id: str) -> Job:
    return svc.store.get(job_id)


# ---- claims ---------------------------------------------------------------------------------


@router.post("/items/{job_id}/claim")
async def claim_item(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    takeover = _form_text(form, "takeover") == "1"
    if takeover and not user.can(Role.ADMIN):
        return _refuse(svc, request, job_id, user, "only an admin can take over a claim", 403)
    try:
        before = _get(svc, job_id)
        job = claims.claim(svc.store, job_id, user.name, lease=svc.lease, takeover=takeover)
    except JobNotFound:
        return render(request, "error.html", {"message": f"no item {job_id}"}, status_code=404)
    except claims.ClaimRefused as exc:
        return _refuse(svc, request, job_id, user, f"Not claimed: {exc}.")
    except IllegalTransition as exc:
        return _refuse(svc, request, job_id, user, f"Not claimed: this item is {exc.current}.")
    previous = before.claimed_by if before.status is JobStatus.CLAIMED else None
    if previous and previous != user.name:
        action = "takeover" if claims.lease_live(before) else "claim_expired_lease"
        svc.audit.append(user.name, action, job_id, previous_holder=previous)
    elif previous != user.name:
        svc.audit.append(user.name, "claim", job_id, version=job.version)
    return RedirectResponse(_item_url(job_id, request), status_code=303)


@router.post("/items/{job_id}/renew")
def renew_lease(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    message = None
    try:
        job = claims.renew(svc.store, job_id, user.name, lease=svc.lease)
    except claims.NotClaimHolder as exc:
        job = _get(svc, job_id)
        message = f"Your claim is gone: {exc}. Your edits cannot be saved."
    return render(request, "_lease.html", lease_context(job, user, message))


@router.post("/items/{job_id}/release")
async def release_item(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    try:
        job = claims.release(svc.store, job_id, user.name)
    except claims.NotClaimHolder as exc:
        return _refuse(svc, request, job_id, user, f"Not released: {exc}.")
    svc.audit.append(user.name, "release", job_id)
    return RedirectResponse(_item_url(job.id, request, flash="released"), status_code=303)


# ---- resolve, re-run, discard, skip ---------------------------------------------------------


def _held(svc: Services, job_id: str, user: User, version: int | None) -> Job:
    job = _get(svc, job_id)
    claims.check_holder(job, user.name, version)
    return job


@router.post("/items/{job_id}/resolve")
async def resolve_item(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    version = _version(form)
    try:
        job = _held(svc, job_id, user, version)
    except _HOLD_LOST as exc:
        return _not_done(svc, request, job_id, user, "Not saved", exc)
    entry = schema_for(job)
    if entry is None:
        return _refuse(svc, request, job_id, user, "Not saved: this item has no known schema.")
    pairs = {str(key): value for key, value in form.items() if isinstance(value, str)}
    record = read_record(entry.model, pairs)
    try:
        resolved = dead_letter.resolve(
            svc.store, svc.celery, svc.settings, job_id, record,
            by=user.name, expected_version=version,
        )
    except dead_letter.InvalidResolution as exc:
        errors = {".".join(str(p) for p in e["loc"]): str(e["msg"]) for e in exc.errors}
        context = item_context(
            svc, request, job, user, values=record, errors=errors,
            record_error=f"{len(exc.errors)} field(s) need fixing before this can be resolved.",
        )
        return render(request, "item.html", context, status_code=422)
    except _ITEM_CHANGED as exc:
        return _not_done(svc, request, job_id, user, "Not saved", exc)
    best = best_attempt(attempt_views(job.attempts))
    final = resolved.result if isinstance(resolved.result, dict) else record
    svc.audit.append(
        user.name, "resolve", job_id,
        changes=field_changes(unwrap_record(best.parsed if best else None), final),
        seconds_spent=seconds_since(job.claimed_at),
        schema=entry.key, sinks=sorted(resolved.sink_deliveries),
    )
    if _form_text(form, "do_not_train") == "1":
        _mark_do_not_train(svc, job_id, user)
    return _after_action(svc, request, job, "resolved")


@router.post("/items/{job_id}/requeue")
async def requeue_item(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    version = _version(form)
    hint = _form_text(form, "hint") or None
    model = _form_text(form, "model") or None
    try:
        job = _held(svc, job_id, user, version)
        new_input = {**job.input, "model": model} if model else None
        new = dead_letter.requeue(
            svc.store, svc.celery, svc.settings, job_id,
            input=new_input, hint=hint, by=user.name, expected_version=version,
        )
    except (*_HOLD_LOST, *_ITEM_CHANGED, InputNotEditable, InvalidInput) as exc:
        return _not_done(svc, request, job_id, user, "Not re-run", exc)
    svc.audit.append(
        user.name, "requeue", job_id, seconds_spent=seconds_since(job.claimed_at),
        new_job=new.id, hint=hint, model=model,
    )
    return _after_action(svc, request, job, "requeued")


def _discard_reason(form: Any) -> str:
    reason = _form_text(form, "discard_reason")
    note = _form_text(form, "note")
    if reason not in DISCARD_REASONS:
        raise ActionRefused("choose a discard reason from the list")
    if reason == "other" and not note:
        raise ActionRefused("say why in the note when the reason is 'other'")
    return f"{reason}: {note}" if note else reason


@router.post("/items/{job_id}/discard")
async def discard_item(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    version = _version(form)
    try:
        reason = _discard_reason(form)
        job = _held(svc, job_id, user, version)
        dead_letter.discard(svc.store, job_id, reason=reason, by=user.name,
                            expected_version=version)
    except (ActionRefused, *_HOLD_LOST, *_ITEM_CHANGED) as exc:
        return _not_done(svc, request, job_id, user, "Not discarded", exc)
    svc.audit.append(user.name, "discard", job_id, seconds_spent=seconds_since(job.claimed_at),
                     reason=reason)
    return _after_action(svc, request, job, "discarded")


@router.post("/items/{job_id}/skip")
async def skip_item(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    job = _get(svc, job_id)
    if job.status is JobStatus.CLAIMED and job.claimed_by == user.name:
        job = claims.release(svc.store, job_id, user.name)
    svc.audit.append(user.name, "skip", job_id)
    return _after_action(svc, request, job, "skipped")


@router.post("/items/{job_id}/training")
async def training_mark(
    request: Request, job_id: str, svc: ServicesDep, user: Reviewer, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    if _form_text(form, "do_not_train") == "1":
        _mark_do_not_train(svc, job_id, user)
    else:
        svc.exclusions.unmark(job_id)
        svc.audit.append(user.name, "allow_training", job_id)
    return RedirectResponse(_item_url(job_id, request), status_code=303)


# ---- bulk -----------------------------------------------------------------------------------


@router.post("/bulk/{action}")
async def bulk_action(
    request: Request, action: str, svc: ServicesDep, user: Admin, _csrf: CsrfChecked
) -> Response:
    """First call: show the count and ask. Second call (``confirm=yes`` with the count the
    admin saw): act on every unclaimed item under the filter. No bulk resolve."""
    if action not in BULK_ACTIONS:
        return render(request, "error.html", {"message": f"no bulk {action}"}, status_code=404)
    form = await request.form()
    current = QueueFilter.from_params(form)
    query = current.query()
    count = svc.store.count(query)
    reason = ""
    try:
        if action == "discard":
            reason = _discard_reason(form)
    except ActionRefused as exc:
        return render(request, "error.html", {"message": f"Not discarded: {exc}."}, status_code=400)
    context = {
        "action": action, "count": count, "filter": current, "reason": reason,
        "form_reason": _form_text(form, "discard_reason"), "form_note": _form_text(form, "note"),
        "hint": _form_text(form, "hint"), "changed": False,
    }
    confirmed = _form_text(form, "confirm") == "yes"
    if not confirmed or _form_text(form, "expected_count") != str(count):
        context["changed"] = confirmed
        return render(request, "confirm_bulk.html", context)
    hint = _form_text(form, "hint") or None
    done, skipped = _run_bulk(svc, user, action, list(svc.store.iter_jobs(query)), reason, hint)
    svc.group_counts.clear()
    svc.audit.append(user.name, f"bulk_{action}", None, count=done, skipped=skipped,
                     filter=current.params(), reason=reason or None)
    params = {**current.params(), "flash": "bulk"}
    return RedirectResponse(f"/?{urlencode(params)}", status_code=303)


def _run_bulk(
    svc: Services, user: User, action: str, jobs: list[Job], reason: str, hint: str | None
) -> tuple[int, int]:
    """Act on each item nobody else is working on; returns (done, skipped)."""
    done = skipped = 0
    for job in jobs:
        held_by_other = (
            job.status is JobStatus.CLAIMED and job.claimed_by != user.name
            and claims.lease_live(job)
        )
        if held_by_other or job.status not in DEAD_LETTERED:
            skipped += 1
            continue
        try:
            if action == "discard":
                dead_letter.discard(svc.store, job.id, reason=reason, by=user.name,
                                    expected_version=job.version)
            else:
                dead_letter.requeue(svc.store, svc.celery, svc.settings, job.id, hint=hint,
                                    by=user.name, expected_version=job.version)
        except (ConcurrentUpdate, IllegalTransition, InputNotEditable, InvalidInput):
            skipped += 1
            continue
        svc.audit.append(user.name, action, job.id, bulk=True, reason=reason or None)
        done += 1
    return done, skipped


# ---- sign-out -------------------------------------------------------------------------------


@router.post("/logout")
def logout(request: Request, svc: ServicesDep, session: SessionDep, _csrf: CsrfChecked) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        svc.sessions.delete(token)
    svc.audit.append(session.user.name, "sign_out")
    response = RedirectResponse("/login?flash=signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


__all__ = ["router"]
