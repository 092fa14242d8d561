"""An ask job's token stream as server-sent events, resumable with ``Last-Event-ID``.

The events are the worker's, read from the job's Redis stream (:mod:`libs.llm.token_stream`)
and relayed as written, each with its stream id: ``sources``, ``token`` (many), ``reset``
(start over), ``done`` or ``error``. An ``EventSource`` that loses its connection comes back
on its own with the id of the last event it saw and gets only what follows. When the job is
over and the client has seen the end, the answer is 204, which tells an ``EventSource`` to
stop reconnecting. A stream whose events have expired ends with the job's own outcome.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dlq_dashboard.services import Services
from libs.llm.token_stream import START, InvalidEventId, checked_event_id, read_after
from schemas.job import Job, JobStatus
from sluice.broker_redis import async_redis

READ_BLOCK_MS = 500
KEEP_ALIVE_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def event_stream(
    request: Request, svc: Services, job_id: str, last_event_id: str | None
) -> Response:
    try:
        after = checked_event_id(last_event_id)
    except InvalidEventId as exc:
        raise HTTPException(400, detail=str(exc)) from None
    if after != START and await _seen_the_end(svc, job_id, after):
        return Response(status_code=204)
    return StreamingResponse(_relay(request, svc, job_id, after),
                             media_type="text/event-stream", headers=SSE_HEADERS)


async def _seen_the_end(svc: Services, job_id: str, after: str) -> bool:
    job = await run_in_threadpool(svc.store.get, job_id)
    if not job.settled:
        return False
    client = async_redis(svc.settings)
    try:
        return not await read_after(client, job_id, after, block_ms=None, count=1)
    finally:
        await client.aclose()


async def _relay(request: Request, svc: Services, job_id: str, after: str) -> AsyncIterator[str]:
    client = async_redis(svc.settings)
    last_sent = time.monotonic()
    try:
        while not await request.is_disconnected():
            events = await read_after(client, job_id, after, block_ms=READ_BLOCK_MS)
            if not events:
                job = await run_in_threadpool(svc.store.get, job_id)
                if not job.settled:
                    if time.monotonic() - last_sent > KEEP_ALIVE_SECONDS:
                        last_sent = time.monotonic()
                        yield ": keep-alive\n\n"
                    continue
                events = await read_after(client, job_id, after, block_ms=None)
                if not events:
                    yield _ending(job)
                    return
            for event in events:
                after, last_sent = event.id, time.monotonic()
                yield event.as_sse()
                if event.event in ("done", "error"):
                    return
    finally:
        await client.aclose()


def _ending(job: Job) -> str:
    """The last word on a job whose stream holds nothing more (expired, or it died first)."""
    result: dict[str, Any] = job.result or {}
    if job.status is JobStatus.SUCCEEDED:
        data = {"answer": result.get("answer"), "sources": result.get("sources", [])}
        return f"event: done\ndata: {json.dumps(data)}\n\n"
    data = {"status": job.status.value, "reason": job.reason, "error": job.error}
    return f"event: error\ndata: {json.dumps(data)}\n\n"
