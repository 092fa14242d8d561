"""Job callbacks, the kernel's half: when a job settles, a signed POST of its summary is owed.

A job submitted with ``callback_url`` gets a :class:`~schemas.job.CallbackDelivery` each
time it settles (succeeded, dead, cancelled, and a dead job's resolve, requeue or discard;
a reviewer's claim is not news). It is added in the same compare-and-set write that
settles the job (:meth:`sluice.stores.base.JobStore.mutate` calls
:func:`add_settlement_callback`), so no crash can settle a job and forget its callback.

The delivery is due at once; the due sweep (:mod:`sluice.due`) sends the message
``CALLBACK_TASK(job_id, delivery_id)`` to the ``io`` queue and moves ``due_at`` to the end
of a lease. The task (``workers/callbacks.py``, since it needs the SSRF guard and the
signing scheme from the libraries) POSTs, records each try on the job, retries with backoff
through Celery, and clears ``due_at`` once delivered or given up. A message lost with its
worker or its broker is sent again when the lease ends: delivery is at least once, and
``delivery_id`` lets the receiver drop a repeat.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from schemas.job import (
    SETTLED,
    CallbackDelivery,
    CallbackStatus,
    Job,
    JobStatus,
    utcnow,
)
from sluice.errors import CallbackNotAllowed
from sluice.settings import Settings

# The task the kernel sends for a due callback; the worker edge declares it under this name.
CALLBACK_TASK = "sluice.callback"

# Settled states worth telling the receiver about; claimed (a reviewer's lease) is not.
NOTIFIED: frozenset[JobStatus] = SETTLED - {JobStatus.CLAIMED}


def check_callback_url(settings: Settings, url: str) -> None:
    """Refuse, with :class:`CallbackNotAllowed`, a URL whose host is not on
    ``SLUICE_CALLBACK_ALLOWED_HOSTS``, whose scheme is not https (or http where allowed),
    or any callback while no signing secret is set. Where the host resolves to is checked
    again at each delivery, by the SSRF guard."""
    if settings.callback_secret is None:
        raise CallbackNotAllowed("callbacks are off: SLUICE_CALLBACK_SECRET is unset")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError as exc:
        raise CallbackNotAllowed(f"callback_url is not a URL: {exc}") from None
    schemes = ("https", "http") if settings.callback_allow_http else ("https",)
    if parts.scheme not in schemes:
        raise CallbackNotAllowed(f"callback_url must use {' or '.join(schemes)}")
    if parts.username or parts.password:
        raise CallbackNotAllowed("callback_url must not carry a user or password")
    if not host or not any(_host_matches(host, allowed) for allowed in
                           settings.callback_allowed_hosts):
        raise CallbackNotAllowed(
            f"callback host {host or '(none)'!r} is not on SLUICE_CALLBACK_ALLOWED_HOSTS"
        )


def _host_matches(host: str, allowed: str) -> bool:
    allowed = allowed.lower().strip()
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed


def add_settlement_callback(previous: Job, proposed: Job) -> None:
    """Owe a callback when this write settles the job (``proposed`` is changed in place)."""
    if not proposed.callback_url or proposed.status is previous.status:
        return
    if proposed.status not in NOTIFIED:
        return
    if previous.status is JobStatus.CLAIMED and proposed.status is JobStatus.DEAD:
        return  # a released claim: the job was dead already, and the receiver was told
    proposed.callbacks.append(CallbackDelivery(event=proposed.status, due_at=utcnow()))


def lease(settings: Settings) -> timedelta:
    """How long a sent callback message may take before the due sweep sends it again: a
    message waiting in Redis is redelivered within the visibility timeout, so one that
    has not reported back by then (plus ``stranded_after``) was lost."""
    return timedelta(seconds=settings.visibility_timeout + settings.stranded_after_seconds)


def pending(job: Job) -> list[CallbackDelivery]:
    return [
        callback for callback in job.callbacks
        if callback.status in (CallbackStatus.PENDING, CallbackStatus.RETRYING)
    ]


def summary(job: Job, callback: CallbackDelivery) -> dict[str, object]:
    """What a callback POSTs: enough to act on without a second call (a receiver that needs
    the trace or attempts reads the job). ``event`` is the status this delivery reports;
    ``status`` is the job's status now, which a later settlement may have moved on."""
    client_prefix = f"t:{job.tenant}:"  # how the API namespaces a client's key per tenant
    key = job.idempotency_key
    return {
        "delivery_id": callback.delivery_id,
        "event": callback.event.value,
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "reason": job.reason.value if job.reason else None,
        "error": job.error,
        "result": job.result,
        "idempotency_key": key.removeprefix(client_prefix) if key else None,
        "tenant": job.tenant,
        "priority": job.priority.value,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "redriven_to": job.redriven_to,
    }


__all__ = [
    "CALLBACK_TASK",
    "NOTIFIED",
    "add_settlement_callback",
    "check_callback_url",
    "lease",
    "pending",
    "summary",
]
