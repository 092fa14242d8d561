"""Handling one change event: enqueue, then (and only then) save the resume token.

The order is the whole point. If the process dies after the enqueue and before the token
is saved, the restarted stream replays the event, and the job's idempotency key (derived
from the event's token) returns the job already stored. If it dies before the enqueue, the
token was never saved and the event is read again. Nothing is lost and nothing doubles.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from celery import Celery
from prometheus_client import Counter, Gauge

from producers.cdc.events import Action, Planned, embed_input, plan_event
from producers.cdc.position import TOKENS_NAMESPACE, ResumeTokens, ScanWindow
from schemas.job import utcnow
from sluice.enqueue import submit
from sluice.settings import Settings
from sluice.stores import IdempotencyConflict, JobStore

log = structlog.get_logger(__name__)


LAG_SECONDS = Gauge(
    "sluice_cdc_lag_seconds",
    "Seconds between a change's cluster time and its enqueue, per watched collection.",
    ["collection"],
)
EVENTS = Counter(
    "sluice_cdc_events_total", "Change events handled, by collection and action.",
    ["collection", "action"],
)


class ChangeConsumer:
    def __init__(
        self, *, store: JobStore, celery: Celery, settings: Settings, tokens: ResumeTokens
    ) -> None:
        self._store = store
        self._celery = celery
        self._settings = settings
        self.tokens = tokens

    def handle(
        self, collection: str, event: dict[str, Any], window: ScanWindow | None = None
    ) -> Planned:
        """Queue the event's job, then save its token. ``window``: the scan this stream
        follows, whose job an embed of the same content up to ``window.until`` reuses."""
        planned = plan_event(event)
        if planned.kind is not None and planned.job_input is not None:
            key = planned.idempotency_key
            if window is not None and planned.action is Action.EMBED and window.covers(event):
                key = backfill_key(window.marker, planned.job_input)
            # A conflict is the replay of an event enqueued before: its job stands.
            with contextlib.suppress(IdempotencyConflict):
                submit(
                    planned.kind, planned.job_input, idempotency_key=key,
                    store=self._store, celery=self._celery, settings=self._settings,
                )
        # The job is in the store now (sent, or sent later by stranded-job recovery).
        self.tokens.save(collection, planned.token, planned, window)
        EVENTS.labels(collection, planned.action.value).inc()
        if planned.cluster_time is not None:
            lag = (utcnow() - planned.cluster_time).total_seconds()
            LAG_SECONDS.labels(collection).set(max(0.0, lag))
        if planned.action is not Action.IGNORE:
            log.info("change handled", collection=collection, action=planned.action,
                     why=planned.why or None)
        return planned

    def backfill_one(self, collection: str, document: dict[str, Any], marker: str) -> bool:
        """Queue an embed for a document found by the scan ``marker``; False if not one of
        ours. A resumed scan, or an event for the same content, finds the same job."""
        job_input = embed_input(document)
        if job_input is None:
            return False
        with contextlib.suppress(IdempotencyConflict):
            submit("embed", job_input, idempotency_key=backfill_key(marker, job_input),
                   store=self._store, celery=self._celery, settings=self._settings)
        return True


def backfill_key(marker: str, job_input: dict[str, Any]) -> str:
    """One embed per scan, document and content."""
    return f"cdc-backfill:{marker}:{job_input['document_id']}:{job_input['content_hash']}"


__all__ = ["TOKENS_NAMESPACE", "ChangeConsumer", "ResumeTokens", "backfill_key"]
