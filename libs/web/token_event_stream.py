"""An ask job's token stream as server-sent events, resumable with ``Last-Event-ID``.

The API's ``/v1/ask`` streams and the dashboard's Ask page both serve this. The events are
the worker's, read from the job's Redis stream (:mod:`libs.llm.token_stream`) and relayed as
written, each with its stream id: ``sources``, ``token`` (many), ``reset`` (start over),
then ``done`` or ``error``, which each caller may dress with what it knows (``finish``).
While the job runs and the stream is silent a keep-alive comment goes out now and then; a
stream that holds nothing more once the job is settled (expired, or the job died before
streaming anything) ends with the caller's own last word on the job (``ending``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from libs.llm.token_stream import START, StreamEvent, read_after
from schemas.job import Job
from sluice.broker_redis import async_redis
from sluice.settings import Settings
from sluice.stores import JobStore

READ_BLOCK_MS = 500
KEEP_ALIVE_SECONDS = 15.0
# The last event, given a settled job whose stream holds nothing more.
Ending = Callable[[Job], str]
# How the worker's ``done`` or ``error`` event is sent.
Finish = Callable[[StreamEvent], Awaitable[str]]


async def as_written(event: StreamEvent) -> str:
    """The worker's event as it wrote it."""
    return event.as_sse()


async def token_events(
    request: Request, store: JobStore, settings: Settings, job_id: str, after: str,
    ending: Ending, finish: Finish = as_written,
) -> AsyncGenerator[str, None]:
    """The job's stream from ``after`` on, until ``done`` or ``error`` or the watcher leaves."""
    client = async_redis(settings)
    try:
        last_sent = time.monotonic()
        while not await request.is_disconnected():
            events = await read_after(client, job_id, after, block_ms=READ_BLOCK_MS)
            if not events:
                job = await run_in_threadpool(store.get, job_id)
                if not job.settled:
                    if time.monotonic() - last_sent > KEEP_ALIVE_SECONDS:
                        last_sent = time.monotonic()
                        yield ": keep-alive\n\n"
                    continue
                # Finished: drain what the worker wrote just before, then end.
                events = await read_after(client, job_id, after, block_ms=None)
                if not events:
                    yield ending(job)
                    return
            for event in events:
                after = event.id
                last_sent = time.monotonic()
                if event.event in ("done", "error"):
                    yield await finish(event)
                    return
                yield event.as_sse()
    finally:
        await client.aclose()


async def nothing_left(store: JobStore, settings: Settings, job_id: str, after: str) -> bool:
    """A resume after the last event of a finished job: there is nothing more to send (a
    caller answers 204, which tells an ``EventSource`` to stop reconnecting)."""
    if after == START:
        return False
    job = await run_in_threadpool(store.get, job_id)
    if not job.settled:
        return False
    client = async_redis(settings)
    try:
        return not await read_after(client, job_id, after, block_ms=None, count=1)
    finally:
        await client.aclose()
