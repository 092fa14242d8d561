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
from collections.abc import AsyncIterator
from typing import Annotated

import redis
import redis.asyncio
from fastapi import APIRouter, Header, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from libs.llm.token_stream import START
from producers.api.auth import Reader, owned
from producers.api.dependencies import SettingsDep, StoreDep
from producers.api.responses import EventStream
from producers.api.stream_slots import StreamSlots
from schemas.job import SETTLED, Job
from schemas.job_event import JobEvent
from schemas.principal import Principal
from sluice.broker_redis import UnsupportedBrokerUrl, async_redis
from sluice.job_events import read_versions
from sluice.settings import Settings
from sluice.stores import JobNotFound, JobStore

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
POLL_INTERVAL_SECONDS = 0.2
STREAM_WAIT_MS = 1000
# A stream silent this long: look at the store (a publish lost to a broker hiccup).
STORE_LOOK_SECONDS = 2.0
KEEP_ALIVE_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}



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


def _event(event: JobEvent) -> str:
    return f"id: {event.version}\nevent: job\ndata: {event.model_dump_json()}\n\n"


def _looked_up(job: Job) -> JobEvent:
    """The event for a version read from the store: what changed is not known."""
    return JobEvent(id=job.id, version=job.version, status=job.status, reason=job.reason,
                    updated_at=job.updated_at, changed=[])


async def job_versions(
    request: Request, store: JobStore, client: redis.asyncio.Redis | None, job_id: str,
    after_version: int,
) -> AsyncIterator[str]:
    """Every version after ``after_version``: first those the job's stream still holds and
    the store's current one, then each as it is published; the store is read again
    whenever the stream stays silent, and on every look once Redis fails (``client`` None)."""
    stream_position = START
    first = True
    last_sent = last_store_look = time.monotonic()
    while not await request.is_disconnected():
        candidates: list[JobEvent] = []
        if client is not None:
            try:
                found = await read_versions(
                    client, job_id, stream_position, None if first else STREAM_WAIT_MS)
            except redis.RedisError:
                client = None  # degraded: the store alone, as often as before
                found = []
            for version in found:
                stream_position = version.stream_id
                candidates.append(version.event)
        now = time.monotonic()
        if first or client is None or (
            not candidates and now - last_store_look >= STORE_LOOK_SECONDS
        ):
            candidates.append(_looked_up(await run_in_threadpool(store.get, job_id)))
            last_store_look = now
        first = False
        for event in candidates:
            if event.version <= after_version:
                continue
            after_version = event.version
            last_sent = time.monotonic()
            yield _event(event)
            if event.status in SETTLED:
                final = await run_in_threadpool(store.get, job_id)
                yield f"event: end\ndata: {final.model_dump_json()}\n\n"
                return
        if time.monotonic() - last_sent > KEEP_ALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        if client is None:
            await asyncio.sleep(POLL_INTERVAL_SECONDS)


async def _relay(
    request: Request, store: JobStore, settings: Settings, job_id: str, after_version: int
) -> AsyncIterator[str]:
    try:
        client: redis.asyncio.Redis | None = async_redis(settings)
    except UnsupportedBrokerUrl:
        client = None
    try:
        async for chunk in job_versions(request, store, client, job_id, after_version):
            yield chunk
    finally:
        if client is not None:
            await client.aclose()


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
        slots.hold(caller.key_id, _relay(request, store, settings, job_id, after)),
        media_type="text/event-stream", headers=SSE_HEADERS,
    )
