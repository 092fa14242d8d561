"""The ``sluice.callback`` task: POST a settled job's summary to its ``callback_url``, signed.

The kernel owes the callback and sends this task when it is due (:mod:`sluice.callbacks`,
:mod:`sluice.due`); here it is delivered. The body is the job's summary as JSON, signed
with ``Sluice-Signature: t=...,v1=...`` (:mod:`sluice.client.webhooks`, the scheme a
receiver verifies with the same module), and ``Sluice-Delivery`` carries the delivery id
that stays the same on every try. The connection goes through the SSRF guard
(:mod:`libs.web.ssrf`): the host was on the allow-list at submission and is checked again
here, and where it resolves to must be public (or in ``SLUICE_CALLBACK_ALLOWED_NETWORKS``).

Each try is recorded on the job (``Job.callbacks``: attempts, last status, last error). A
2xx is delivered; a transient fault (no answer, 408/425/429/5xx) retries through Celery
with the kernel's jittered backoff until ``SLUICE_CALLBACK_MAX_RETRIES``; anything else,
or the last try, marks the delivery ``failed``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from libs.http_faults import HttpFault, classify
from libs.sinks.webhook import origin
from libs.web.ssrf import RefusedAddress, guarded_client
from schemas.inputs.system import CallbackInput
from schemas.job import CallbackDelivery, CallbackStatus, Job, utcnow
from sluice import callbacks
from sluice._version import __version__
from sluice.client.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, sign_callback
from sluice.errors import CallbackNotAllowed, JobNotFound
from sluice.kinds import Queue, internal_task, retry_countdown
from sluice.settings import Settings, get_settings
from sluice.stores import get_store

log = structlog.get_logger(__name__)


class _Outcome:
    def __init__(self, delivered: bool, transient: bool, error: str | None,
                 http_status: int | None) -> None:
        self.delivered, self.transient = delivered, transient
        self.error, self.http_status = error, http_status


@internal_task(callbacks.CALLBACK_TASK, queue=Queue.IO, input_model=CallbackInput, bind=True,
               max_retries=None)
def deliver_callback(self: Any, job_id: str, delivery_id: str) -> None:
    settings = get_settings()
    store = get_store()
    try:
        job = store.get(job_id)
    except JobNotFound:
        log.warning("callback for a job the store does not have; dropped", job_id=job_id)
        return
    callback = _find(job, delivery_id)
    if callback is None or callback.status not in (CallbackStatus.PENDING,
                                                   CallbackStatus.RETRYING):
        return  # delivered or given up already: this message is a repeat
    outcome = _post(settings, job, callback)
    final = outcome.delivered or not outcome.transient or (
        callback.attempts + 1 > settings.callback_max_retries
    )
    countdown = 0.0 if final else retry_countdown(settings, callback.attempts)
    _record(job_id, delivery_id, outcome, final, countdown, settings)
    bound = log.bind(job_id=job_id, delivery_id=delivery_id, attempt=callback.attempts + 1)
    if outcome.delivered:
        bound.info("callback delivered", http_status=outcome.http_status)
    elif final:
        bound.warning("callback failed", error=outcome.error)
    else:
        bound.info("callback retrying", countdown=round(countdown, 2), error=outcome.error)
        raise self.retry(countdown=countdown, exc=None)


def _find(job: Job, delivery_id: str) -> CallbackDelivery | None:
    return next((c for c in job.callbacks if c.delivery_id == delivery_id), None)


def _post(settings: Settings, job: Job, callback: CallbackDelivery) -> _Outcome:
    url = job.callback_url or ""
    try:
        callbacks.check_callback_url(settings, url)  # the settings may have changed since
    except CallbackNotAllowed as exc:
        return _Outcome(False, False, str(exc), None)
    assert settings.callback_secret is not None  # check_callback_url refuses without one
    body = json.dumps(callbacks.summary(job, callback), default=str, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_callback(settings.callback_secret.get_secret_value(), body),
        DELIVERY_HEADER: callback.delivery_id,
    }
    where = origin(url)  # a callback URL may carry a token: errors name only its origin
    try:
        with guarded_client(settings.callback_allowed_networks,
                            timeout=settings.callback_timeout_seconds,
                            user_agent=f"Sluice-Callback/{__version__}") as client:
            response = client.post(url, content=body, headers=headers)
    except RefusedAddress as exc:
        return _Outcome(False, False, f"callback {where}: {exc}", None)
    except httpx.HTTPError as exc:
        return _Outcome(False, True, f"callback {where}: {type(exc).__name__}", None)
    if response.is_success:
        return _Outcome(True, False, None, response.status_code)
    fault = classify(response)
    error = f"callback {where}: HTTP {response.status_code}"
    return _Outcome(False, fault is HttpFault.TRANSIENT, error, response.status_code)


def _record(job_id: str, delivery_id: str, outcome: _Outcome, final: bool, countdown: float,
            settings: Settings) -> None:
    now = utcnow()

    def change(job: Job) -> Job | None:
        callback = _find(job, delivery_id)
        if callback is None:
            return None
        callback.attempts += 1
        callback.last_http_status = outcome.http_status
        callback.last_error = outcome.error
        if outcome.delivered:
            callback.status, callback.delivered_at, callback.due_at = (
                CallbackStatus.DELIVERED, now, None)
        elif final:
            callback.status, callback.due_at = CallbackStatus.FAILED, None
        else:
            # Celery's retry carries it on; if that message is lost, the sweep sends again.
            callback.status = CallbackStatus.RETRYING
            callback.due_at = _after(now, countdown) + callbacks.lease(settings)
        return job

    get_store().mutate(job_id, change)


def _after(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)
