"""Local sinks written in place by the worker that accepted the record.

The records collection and the JSONL file need no network, so a worker writes them
directly instead of paying for a ``sink.deliver`` job each (the hot path of a busy
extraction fleet). Both are idempotent by job id. A local sink that fails (a full disk)
is left to a queued delivery job, which retries it like any other sink.
"""

from __future__ import annotations

from typing import Any

import structlog

from libs.sinks import SinkRefused, SinkUnavailable
from libs.sinks.jsonl import append_record, jsonl_path
from libs.sinks.push import configured_sinks
from libs.sinks.records import records_for
from schemas.job import Job, SinkDelivery, SinkDeliveryStatus, utcnow
from sluice.settings import Settings
from sluice.stores import JobStore

log = structlog.get_logger(__name__)
LOCAL_SINKS = frozenset({"records", "jsonl"})


def deliver_locally(
    settings: Settings,
    store: JobStore,
    job: Job,
    record: dict[str, Any],
    *,
    maybe_written: bool,
) -> frozenset[str]:
    """Write ``record`` to the configured local sinks; returns those that took it.

    ``maybe_written``: an earlier delivery of this job may have written already (a
    redelivery), so the JSONL file is searched for the job id first.
    """
    delivered: dict[str, SinkDelivery] = {}
    args = (job.id, job.schema_name, job.schema_version, record)
    for sink in configured_sinks(settings):
        if sink not in LOCAL_SINKS:
            continue
        try:
            if sink == "records":
                records_for(settings).put(*args)
            else:
                append_record(jsonl_path(settings), *args, check_existing=maybe_written)
        except (SinkUnavailable, SinkRefused, OSError) as exc:
            log.warning("local sink failed; a delivery job takes over", sink=sink,
                        job_id=job.id, error=str(exc))
            continue
        delivered[sink] = SinkDelivery(status=SinkDeliveryStatus.DELIVERED, attempts=1,
                                       in_place=True, delivered_at=utcnow(), last_error=None)
    if delivered:
        def note(current: Job) -> Job:
            for sink, entry in delivered.items():
                known = current.sink_deliveries.get(sink)
                current.sink_deliveries[sink] = (
                    entry if known is None
                    else known.model_copy(update=entry.model_dump(exclude_unset=True))
                )
            return current

        store.mutate(job.id, note)
    return frozenset(delivered)
