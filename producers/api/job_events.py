"""Watching a job from the API: wait for its end, or stream its state changes as SSE.

``GET /v1/jobs/{id}/events`` sends a ``job`` event at each version the store writes (event
id = version; data = :class:`~schemas.job_event.JobEvent`: id, version, status, reason and
the names of the fields that changed), relayed from the job's Redis stream
(:mod:`sluice.job_events`), then one ``end`` event whose data is the whole final job. A
client that reconnects with ``Last-Event-ID: <version>`` gets every later version the
stream holds, from any API process. If a publish was lost or Redis fails, the store is read
instead and versions written between two looks arrive folded into the later one (its
``changed`` is then empty: unknown), so no state a client acts on is lost.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from libs.web.job_event_stream import SSE_HEADERS, relay
from producers.api.auth import Reader, owned
from producers.api.dependencies import SettingsDep, StoreDep
from producers.api.responses import EventStream
from producers.api.stream_slots import StreamSlots
from schemas.job import Job
from schemas.principal import Principal
from sluice.stores import JobNotFound, JobStore

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
POLL_INTERVAL_SECONDS = 0.2


async def load(store: JobStore, job_id: str, caller: Principal) -> Job:
    """The job, or 404 when it does not exist or is another tenant's."""
    try:
        job = await run_in_threadpool(store.get, job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    owned(caller, job.tenant, f"job {job_id}")
    return job


async def wait_until_terminal(store: JobStore, job_id: str, timeout: float) -> Job:
    """The job once it is settled (see :data:`schemas.job.SETTLED`), or as it is when
    ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    interval = 0.01
    while True:
        job = await run_in_threadpool(store.get, job_id)
        if job.settled:
            return job
        if time.monotonic() >= deadline:
            return job
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 2, POLL_INTERVAL_SECONDS)


def _version(last_event_id: str | None) -> int:
    if not last_event_id:
        return -1
    try:
        return int(last_event_id)
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail=f"Last-Event-ID {last_event_id!r} is not a version"
        ) from exc


@router.get("/{job_id}/events", response_class=EventStream,
            responses={200: {"description": "`job` events, then `end` with the final job."}})
async def job_events(
    job_id: str,
    request: Request,
    caller: Reader,
    store: StoreDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventStream:
    """Server-sent events: the job at each new version, then ``end`` once it is final."""
    await load(store, job_id, caller)
    after = _version(last_event_id)
    slots: StreamSlots = request.app.state.stream_slots
    slots.claim(caller.key_id)
    return EventStream(
        slots.hold(caller.key_id, relay(request, store, settings, job_id, after)),
        media_type="text/event-stream", headers=SSE_HEADERS,
    )
