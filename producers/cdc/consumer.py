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

from producers.cdc.events import Action, Planned, plan_event
from producers.state_store import StateStore
from schemas.job import utcnow
from sluice.enqueue import submit
from sluice.settings import Settings
from sluice.stores import IdempotencyConflict, JobStore

log = structlog.get_logger(__name__)

TOKENS_NAMESPACE = "cdc.resume"

LAG_SECONDS = Gauge(
    "sluice_cdc_lag_seconds",
    "Seconds between a change's cluster time and its enqueue, per watched collection.",
    ["collection"],
)
EVENTS = Counter(
    "sluice_cdc_events_total", "Change events handled, by collection and action.",
    ["collection", "action"],
)


class ResumeTokens:
    """The resume token of each watched collection, in the producer state store."""

    def __init__(self, state: StateStore) -> None:
        self._state = state

    def load(self, collection: str) -> dict[str, Any] | None:
        record = self._state.get(TOKENS_NAMESPACE, collection)
        return dict(record.doc["token"]) if record and record.doc.get("token") else None

    def save(self, collection: str, token: dict[str, Any], planned: Planned) -> None:
        self._state.put(TOKENS_NAMESPACE, collection, {
            "token": token, "action": planned.action.value, "saved_at": utcnow().isoformat(),
            "cluster_time": planned.cluster_time.isoformat() if planned.cluster_time else None,
        })

    def clear(self, collection: str) -> bool:
        return self._state.delete(TOKENS_NAMESPACE, collection)


class ChangeConsumer:
    def __init__(
        self, *, store: JobStore, celery: Celery, settings: Settings, tokens: ResumeTokens
    ) -> None:
        self._store = store
        self._celery = celery
        self._settings = settings
        self.tokens = tokens

    def handle(self, collection: str, event: dict[str, Any]) -> Planned:
        planned = plan_event(event)
        if planned.kind is not None and planned.job_input is not None:
            # A conflict is the replay of an event enqueued before: its job stands.
            with contextlib.suppress(IdempotencyConflict):
                submit(
                    planned.kind, planned.job_input, idempotency_key=planned.idempotency_key,
                    store=self._store, celery=self._celery, settings=self._settings,
                )
        # The job is in the store now (sent, or sent later by stranded-job recovery).
        self.tokens.save(collection, planned.token, planned)
        EVENTS.labels(collection, planned.action.value).inc()
        if planned.cluster_time is not None:
            lag = (utcnow() - planned.cluster_time).total_seconds()
            LAG_SECONDS.labels(collection).set(max(0.0, lag))
        if planned.action is not Action.IGNORE:
            log.info("change handled", collection=collection, action=planned.action,
                     why=planned.why or None)
        return planned

    def backfill_one(self, collection: str, document: dict[str, Any], marker: str) -> bool:
        """Queue an embed for a document found by a backfill scan; False if not one of ours."""
        if not {"source", "doc_id"} <= document.keys():
            return False
        job_input = {"document_id": str(document["_id"]), "source": document["source"],
                     "doc_id": document["doc_id"], "content_hash": document.get("content_hash")}
        key = f"cdc-backfill:{marker}:{document['_id']}"
        with contextlib.suppress(IdempotencyConflict):
            submit("embed", job_input, idempotency_key=key, store=self._store,
                   celery=self._celery, settings=self._settings)
        return True
