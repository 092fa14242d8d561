"""Handing an accepted record to the sinks: one ``sink.deliver`` job per sink, on ``io``.

Both the extraction worker (a valid record) and the dead-letter queue (a resolution) call
:func:`push_to_sinks`. Each delivery is its own job whose idempotency key is
``sink:{job_id}:{sink}``, so pushing twice (a redelivered worker, a repeated resolve)
creates nothing new, and each sink receives the source job id as its idempotency key.
The delivery job carries the record itself: a sink never depends on when the source job's
own status is written. A sink that is down is retried with backoff; one that stays down
leaves a dead delivery job in the DLQ, which a requeue sends again. Nothing is dropped.

Should the key hold a job that is not this delivery (a delivery of another record of the
same job, or a job stored before client keys were namespaced), the delivery is stored under
a key that names the record's hash instead: a push never fails after its caller changed
the job's state (a resolve, an accepted extraction), and a repeated push still creates
nothing new.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from celery import Celery

from schemas.job import Job, SinkDelivery, SinkDeliveryStatus, utcnow
from sluice.enqueue import send
from sluice.settings import Settings
from sluice.settings.sinks import SINK_NAMES, sink_names
from sluice.stores import IdempotencyConflict, JobStore

DELIVER_KIND = "sink.deliver"
KNOWN_SINKS = SINK_NAMES


class UnknownSink(ValueError):
    """SLUICE_SINKS names a sink Sluice does not have."""


def configured_sinks(settings: Settings) -> list[str]:
    names = sink_names(settings.sinks)
    unknown = [name for name in names if name not in KNOWN_SINKS]
    if unknown:
        raise UnknownSink(f"SLUICE_SINKS: unknown sink(s) {unknown}; known: {list(KNOWN_SINKS)}")
    return names


def delivery_key(job_id: str, sink: str) -> str:
    return f"sink:{job_id}:{sink}"


def record_delivery_key(job_id: str, sink: str, record: dict[str, Any]) -> str:
    """The fallback key of a delivery whose plain key is taken: names the record too."""
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode())
    return f"{delivery_key(job_id, sink)}:{digest.hexdigest()[:32]}"


def _stored_delivery(store: JobStore, delivery: Job, record: dict[str, Any]) -> tuple[Job, bool]:
    try:
        return store.create(delivery)
    except IdempotencyConflict:
        sink = str(delivery.input["sink"])
        fallback = record_delivery_key(str(delivery.input["job_id"]), sink, record)
        return store.create(delivery.model_copy(update={"idempotency_key": fallback}))


def pending_deliveries(settings: Settings) -> dict[str, SinkDelivery]:
    """The ``sink_deliveries`` entries of a record about to be pushed."""
    queued_at = utcnow()
    return {
        sink: SinkDelivery(status=SinkDeliveryStatus.PENDING, attempts=0, queued_at=queued_at)
        for sink in configured_sinks(settings)
    }


def push_to_sinks(
    store: JobStore,
    celery: Celery,
    settings: Settings,
    job: Job,
    record: dict[str, Any],
    *,
    note: bool = True,
    skip: frozenset[str] = frozenset(),
) -> Job:
    """Queue one delivery of ``record`` per configured sink and note each on ``job``.

    ``note=False`` when the caller has written :func:`pending_deliveries` onto the job in
    its own update already (one store write fewer per record on the hot path); ``skip``
    names sinks the caller delivered itself (a worker writes local sinks in place).
    """
    sinks = [sink for sink in configured_sinks(settings) if sink not in skip]
    deliveries: dict[str, str] = {}
    for sink in sinks:
        delivery = Job(
            kind=DELIVER_KIND,
            input={
                "job_id": job.id,
                "sink": sink,
                "record": record,
                "schema_name": job.schema_name,
                "schema_version": job.schema_version,
            },
            idempotency_key=delivery_key(job.id, sink),
            max_deliveries=settings.max_deliveries,
            task_id=uuid.uuid4().hex,
            schema_name=job.schema_name,
            schema_version=job.schema_version,
            tenant=job.tenant,
        )
        stored, created = _stored_delivery(store, delivery, record)
        if created or stored.sent_at is None:
            send(stored, store=store, celery=celery, settings=settings)
        deliveries[sink] = stored.id
    if not note:
        return job

    def add_missing(current: Job) -> Job | None:
        changed = False
        for sink, delivery_id in deliveries.items():
            if sink not in current.sink_deliveries:
                current.sink_deliveries[sink] = SinkDelivery(
                    status=SinkDeliveryStatus.PENDING, queued_at=utcnow(), delivery_job=delivery_id
                )
                changed = True
        return current if changed else None

    return store.mutate(job.id, add_missing)
