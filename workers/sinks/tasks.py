"""The ``sink.deliver`` job kind: hand one record to one sink, and say so on the source job.

The source job's ``sink_deliveries[sink]`` shows where each delivery stands (pending,
retrying with the last error, delivered, failed). A sink that stays down past the retry
limit leaves this delivery job dead in the DLQ with its record; requeueing it delivers.
"""

from __future__ import annotations

from typing import Any

import structlog

from libs.sinks import SinkRefused, SinkUnavailable
from libs.sinks.jsonl import append_record, jsonl_path
from libs.sinks.push import DELIVER_KIND
from libs.sinks.records import records_for
from libs.sinks.webhook import post_record
from schemas.inputs.system import SinkDeliverInput
from schemas.job import DeadReason, Job, SinkDelivery, SinkDeliveryStatus, utcnow
from sluice.job_task import DeadLetter, JobContext, Queue, Retryable, RetryPolicy, job_task
from sluice.stores import JobNotFound, JobStore

log = structlog.get_logger(__name__)


def deliver_to(sink: str, context: JobContext, payload: dict[str, Any]) -> dict[str, Any]:
    settings = context.settings
    args = (payload["job_id"], payload.get("schema_name"), payload.get("schema_version"),
            payload["record"])
    if sink == "records":
        return {"inserted": records_for(settings).put(*args)}
    if sink == "jsonl":
        path = jsonl_path(settings)
        written = append_record(path, *args, check_existing=context.job.deliveries > 1)
        return {"written": written, "path": str(path)}
    if sink == "webhook":
        return {"status": post_record(settings, *args)}
    raise SinkRefused(f"unknown sink {sink!r}")


# A sink that is down (a webhook receiver being deployed) is worth waiting for far longer
# than a model call: its records are already paid for.
@job_task(DELIVER_KIND, queue=Queue.IO, input_model=SinkDeliverInput, internal=True,
          retry=RetryPolicy(limit_setting="sink_max_retries"))
def deliver(context: JobContext) -> dict[str, Any]:
    payload = context.job.input
    sink, source_id = str(payload["sink"]), str(payload["job_id"])
    attempt = context.retries + 1
    try:
        outcome = deliver_to(sink, context, payload)
    except SinkUnavailable as exc:
        giving_up = context.final_try
        status = SinkDeliveryStatus.FAILED if giving_up else SinkDeliveryStatus.RETRYING
        _note(context.store, context.job.id, source_id, sink, status=status,
              attempts=attempt, last_error=str(exc))
        if giving_up:
            context.store.update_fields(context.job.id, error_signature=f"sink.{sink}:unavailable")
        raise Retryable(str(exc)) from None
    except SinkRefused as exc:
        _note(context.store, context.job.id, source_id, sink, status=SinkDeliveryStatus.FAILED,
              attempts=attempt, last_error=str(exc))
        raise DeadLetter(
            DeadReason.NON_RETRYABLE, str(exc), error_signature=f"sink.{sink}:refused"
        ) from None
    _note(context.store, context.job.id, source_id, sink, status=SinkDeliveryStatus.DELIVERED,
          attempts=attempt, delivered_at=utcnow(), last_error=None)
    log.info("record delivered", source_job=source_id, sink=sink, **outcome)
    return {"sink": sink, "job_id": source_id, **outcome}


def _note(
    store: JobStore, delivery_id: str, source_id: str, sink: str, **fields: Any
) -> None:
    def change(job: Job) -> Job | None:
        known = job.sink_deliveries.get(sink) or SinkDelivery()
        if known.status is SinkDeliveryStatus.DELIVERED:
            return None  # never move a delivered sink backwards
        job.sink_deliveries[sink] = known.model_copy(
            update={**fields, "delivery_job": delivery_id}
        )
        return job

    try:
        store.mutate(source_id, change)
    except JobNotFound:
        log.warning("source job gone; delivery not noted", source_job=source_id, sink=sink)
