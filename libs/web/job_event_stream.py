"""A job's versions as server-sent events, relayed from its Redis stream with the store behind.

The API's ``GET /v1/jobs/{id}/events`` and the dashboard's job page both serve this. Each
version the store writes is sent as a ``job`` event (id = version; data =
:class:`~schemas.job_event.JobEvent`), then one ``end`` event once the job is settled. The
stream is read from :mod:`sluice.job_events`; when it stays silent, or Redis fails, the store
is read instead and versions written between two looks arrive folded into the later one
(its ``changed`` is then empty: unknown), so no state a watcher acts on is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import redis
import redis.asyncio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from libs.llm.token_stream import START
from schemas.job import SETTLED, Job
from schemas.job_event import JobEvent
from sluice.broker_redis import UnsupportedBrokerUrl, async_redis
from sluice.job_events import PUBLISH_LAG_SECONDS, read_versions
from sluice.settings import Settings
from sluice.stores import JobStore

POLL_INTERVAL_SECONDS = 0.2
STREAM_WAIT_MS = 1000
# A stream silent this long: look at the store (a publish lost to a broker hiccup).
STORE_LOOK_SECONDS = 2.0
KEEP_ALIVE_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
# What the ``end`` event carries, given the final job.
EndData = Callable[[Job], str]


def whole_job(job: Job) -> str:
    return job.model_dump_json()


def _event(event: JobEvent) -> str:
    return f"id: {event.version}\nevent: job\ndata: {event.model_dump_json()}\n\n"


def _looked_up(job: Job) -> JobEvent:
    """The event for a version read from the store: what changed is not known."""
    return JobEvent(id=job.id, version=job.version, status=job.status, reason=job.reason,
                    updated_at=job.updated_at, changed=[])


def _publish_lag(job: Job) -> float:
    """How much longer the stream may still be due to bring ``job``'s version: what is left of
    :data:`~sluice.job_events.PUBLISH_LAG_SECONDS` since the store wrote it (by the writer's
    clock, so never more than the whole allowance)."""
    written_ago = (datetime.now(UTC) - job.updated_at).total_seconds()
    return min(PUBLISH_LAG_SECONDS, max(0.0, PUBLISH_LAG_SECONDS - written_ago))


async def job_versions(
    request: Request, store: JobStore, client: redis.asyncio.Redis | None, job_id: str,
    after_version: int, end_data: EndData = whole_job,
) -> AsyncIterator[str]:
    """Every version after ``after_version``: first those the job's stream still holds and
    the store's current one, then each as it is published; the store is read again
    whenever the stream stays silent, and on every look once Redis fails (``client`` None).

    A store version the stream has not brought yet is held back while its publish may still
    be on the way (the publisher sends in batches), so versions between it and the stream's
    last arrive one by one instead of folded into it."""
    stream_position = START
    first = True
    last_sent = last_store_look = time.monotonic()
    ahead: JobEvent | None = None  # the store's version, held for the stream to catch up
    hold_until = 0.0
    while not await request.is_disconnected():
        candidates: list[JobEvent] = []
        if client is not None:
            wait_ms = None if first else STREAM_WAIT_MS
            if ahead is not None:
                wait_ms = max(1, min(STREAM_WAIT_MS, int((hold_until - time.monotonic()) * 1000)))
            try:
                found = await read_versions(client, job_id, stream_position, wait_ms)
            except redis.RedisError:
                client = None  # degraded: the store alone, as often as before
                found = []
            for version in found:
                stream_position = version.stream_id
                candidates.append(version.event)
        now = time.monotonic()
        if first or client is None or (
            not candidates and ahead is None and now - last_store_look >= STORE_LOOK_SECONDS
        ):
            looked = await run_in_threadpool(store.get, job_id)
            last_store_look = now
            newest = max([after_version, *(event.version for event in candidates)])
            if looked.version > newest:
                ahead, hold_until = _looked_up(looked), now + (
                    0.0 if client is None else _publish_lag(looked))
        first = False
        if ahead is not None and any(event.version >= ahead.version for event in candidates):
            ahead = None
        if ahead is not None and time.monotonic() >= hold_until:
            candidates.append(ahead)
            ahead = None
        for event in candidates:
            if event.version <= after_version:
                continue
            after_version = event.version
            last_sent = time.monotonic()
            yield _event(event)
            if event.status in SETTLED:
                final = await run_in_threadpool(store.get, job_id)
                yield f"event: end\ndata: {end_data(final)}\n\n"
                return
        if time.monotonic() - last_sent > KEEP_ALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        if client is None:
            await asyncio.sleep(POLL_INTERVAL_SECONDS)


async def relay(
    request: Request, store: JobStore, settings: Settings, job_id: str, after_version: int,
    end_data: EndData = whole_job,
) -> AsyncIterator[str]:
    """:func:`job_versions` on a Redis client of its own, closed when the watcher leaves."""
    try:
        client: redis.asyncio.Redis | None = async_redis(settings)
    except UnsupportedBrokerUrl:
        client = None
    try:
        async for chunk in job_versions(request, store, client, job_id, after_version, end_data):
            yield chunk
    finally:
        if client is not None:
            await client.aclose()
