"""Watching a job from the API: wait for its end, or stream its state changes as SSE.

``GET /v1/jobs/{id}/events`` sends the job each time its stored version changes (event id =
version), until it is terminal. A client that reconnects with ``Last-Event-ID: <version>``
gets only newer versions. Versions that come and go between two looks are folded into the
next one: every event is the whole job, so no state a client acts on is lost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from producers.api.auth import ApiKey
from producers.api.dependencies import StoreDep
from schemas.job import Job
from sluice.stores import JobNotFound, JobStore

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
POLL_INTERVAL_SECONDS = 0.2
KEEP_ALIVE_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def load(store: JobStore, job_id: str) -> Job:
    try:
        return await run_in_threadpool(store.get, job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


async def wait_until_terminal(store: JobStore, job_id: str, timeout: float) -> Job:
    """The job once it is terminal or dead-lettered, or as it is when ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    interval = 0.01
    while True:
        job = await run_in_threadpool(store.get, job_id)
        if job.terminal or job.status.value in ("dead", "claimed"):
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


async def job_snapshots(
    request: Request, store: JobStore, job_id: str, after_version: int
) -> AsyncIterator[str]:
    last_sent = time.monotonic()
    while not await request.is_disconnected():
        job = await run_in_threadpool(store.get, job_id)
        if job.version > after_version:
            after_version = job.version
            last_sent = time.monotonic()
            yield f"id: {job.version}\nevent: job\ndata: {job.model_dump_json()}\n\n"
        if job.terminal or job.status.value == "dead":
            yield f"event: end\ndata: {json.dumps({'status': job.status.value})}\n\n"
            return
        if time.monotonic() - last_sent > KEEP_ALIVE_SECONDS:
            last_sent = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_INTERVAL_SECONDS)


@router.get("/{job_id}/events")
async def job_events(
    job_id: str,
    request: Request,
    _key: ApiKey,
    store: StoreDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Server-sent events: the job at each new version, then ``end`` once it is final."""
    await load(store, job_id)
    return StreamingResponse(
        job_snapshots(request, store, job_id, _version(last_event_id)),
        media_type="text/event-stream", headers=SSE_HEADERS,
    )
