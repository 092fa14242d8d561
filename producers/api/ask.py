"""Questions answered from the indexed documents: ``POST /v1/ask`` and its streaming twin.

The API never embeds or opens Qdrant: it submits an ``ask`` job (``gpu`` queue) and either
waits for its result or relays its token stream as server-sent events:

    event: job       data: {"job_id": ...}            (no id; only on a fresh stream)
    id: <stream id>  event: sources   data: {"sources": [...], "prompt_version": ...}
    id: <stream id>  event: token     data: {"text": " word"}        (many)
    id: <stream id>  event: done      data: {"trace_id", "prompt_tokens",
                                             "completion_tokens", "total_ms", "trace"}

``error`` ends a stream whose job was dead-lettered; ``retrying`` and ``reset`` announce a
transient fault and a fresh start (discard the text received so far). A client that loses
the connection resumes with ``GET /v1/ask/{job_id}/stream`` (or the same POST with its
``idempotency_key``) and ``Last-Event-ID``; the job runs on whether anyone listens or not.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from pydantic import ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from libs.access.checks import client_idempotency_key
from libs.llm.token_stream import START, InvalidEventId, StreamEvent, checked_event_id
from libs.web.job_event_stream import SSE_HEADERS
from libs.web.token_event_stream import nothing_left, token_events
from producers.api.auth import Reader, Submitter
from producers.api.dependencies import CeleryDep, SettingsDep, StoreDep
from producers.api.job_events import load, wait_until_terminal
from producers.api.rate_limit import SubmissionAllowed
from producers.api.responses import EventStream
from producers.api.stream_slots import StreamSlots
from schemas.inputs.retrieval import RetrievalOptions
from schemas.job import Job, JobStatus
from schemas.principal import Principal
from sluice.enqueue import submit
from sluice.settings import Settings
from sluice.stores import IdempotencyConflict, JobStore

router = APIRouter(prefix="/v1/ask", tags=["ask"])
# After the worker's `done`, how long to wait for the job record to carry its trace.
TRACE_WAIT_SECONDS = 5.0


class AskRequest(RetrievalOptions):
    model_config = ConfigDict(extra="ignore")

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=4000)]
    k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve.")
    source: str | None = Field(None, description="Only retrieve from this source.")
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)


def _submit(
    body: AskRequest, store: JobStore, celery: Any, settings: Settings, caller: Principal
) -> Job:
    job_input = body.model_dump(exclude={"idempotency_key"}, exclude_none=True,
                                exclude_defaults=True)
    job_input["question"] = body.question
    try:
        job, _ = submit(
            "ask", job_input,
            idempotency_key=client_idempotency_key(caller.tenant, body.idempotency_key),
            store=store, celery=celery, settings=settings, api_key_id=caller.key_id,
            tenant=caller.tenant,
        )
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return job


def answer_body(job: Job) -> dict[str, Any]:
    result = job.result or {}
    return {
        "job_id": job.id,
        "answer": result.get("answer"),
        "sources": result.get("sources", []),
        "prompt_version": result.get("prompt_version"),
        "model": result.get("model"),
        "usage": result.get("usage"),
        "mode": result.get("mode"),
        "served": result.get("served"),
        "trace": [step.model_dump(mode="json") for step in job.trace],
    }


@router.post("")
async def ask(
    body: AskRequest,
    caller: Submitter,
    _rate: SubmissionAllowed,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Answer and wait: the answer, its numbered sources and the trace of every step."""
    job = await run_in_threadpool(_submit, body, store, celery, settings, caller)
    job = await wait_until_terminal(store, job.id, settings.ask_wait_seconds)
    if job.status is JobStatus.SUCCEEDED:
        return answer_body(job)
    if job.settled:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY,
            detail={"job_id": job.id, "status": job.status.value, "error": job.error},
        )
    raise HTTPException(
        status.HTTP_504_GATEWAY_TIMEOUT,
        detail={"job_id": job.id, "status": job.status.value,
                "error": f"no answer within {settings.ask_wait_seconds:g}s; poll the job"},
    )


def _event_id(
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> str:
    """Where a resume starts; 400 for an id that is not a stream id."""
    try:
        return checked_event_id(last_event_id)
    except InvalidEventId as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def relay(
    request: Request, settings: Settings, store: JobStore, job_id: str, after: str
) -> AsyncIterator[str]:
    """The job's stream from ``after`` on, until ``done`` or ``error``."""
    if after == START:
        yield _sse("job", {"job_id": job_id})
    events = token_events(request, store, settings, job_id, after, ending=_ending,
                          finish=functools.partial(_with_outcome, store, job_id))
    async with contextlib.aclosing(events):
        async for chunk in events:
            yield chunk


def _ending(job: Job) -> str:
    """The last word on a job whose stream holds no more events (expired, or it died
    before streaming anything)."""
    if job.status is JobStatus.SUCCEEDED:
        return _sse("done", {"trace_id": job.id, **answer_body(job)})
    return _sse("error", {"status": job.status.value, "reason": job.reason, "error": job.error})


async def _with_outcome(store: JobStore, job_id: str, event: StreamEvent) -> str:
    """The worker's last event, with what the job record says once it is settled: the
    worker writes the event just before it records the outcome."""
    job = await wait_until_terminal(store, job_id, TRACE_WAIT_SECONDS)
    trace = [step.model_dump(mode="json") for step in job.trace]
    data = {**event.data, "status": job.status.value, "trace": trace}
    return StreamEvent(event.id, event.event, data).as_sse()


async def _stream_response(
    request: Request, settings: Settings, store: JobStore, job_id: str, after: str,
    key_id: str,
) -> Response:
    """The stream; or 204 when a resume finds nothing left, which tells an EventSource
    to stop reconnecting (it reconnects by itself whenever a response ends)."""
    if await nothing_left(store, settings, job_id, after):
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"X-Sluice-Job-Id": job_id})
    slots: StreamSlots = request.app.state.stream_slots
    slots.claim(key_id)
    return EventStream(
        slots.hold(key_id, relay(request, settings, store, job_id, after)),
        media_type="text/event-stream", headers={**SSE_HEADERS, "X-Sluice-Job-Id": job_id},
    )


@router.post("/stream", response_class=EventStream, responses={
    200: {"description": "`sources`, `token`s and `done` as the answer is written."},
    204: {"description": "A resume found nothing left to send."}})
async def ask_stream(
    body: AskRequest,
    request: Request,
    caller: Submitter,
    _rate: SubmissionAllowed,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Server-sent events: ``sources``, ``token``s as the model writes them, ``done``."""
    after = _event_id(last_event_id)
    request.app.state.stream_slots.refuse_if_full(caller.key_id)  # before a job is made
    job = await run_in_threadpool(_submit, body, store, celery, settings, caller)
    return await _stream_response(request, settings, store, job.id, after, caller.key_id)


@router.get("/{job_id}/stream", response_class=EventStream, responses={
    200: {"description": "The answer's events after Last-Event-ID."},
    204: {"description": "Nothing left to send: the stream is over."}})
async def resume_stream(
    job_id: str,
    request: Request,
    caller: Reader,
    store: StoreDep,
    settings: SettingsDep,
    after: Annotated[str, Depends(_event_id)],
) -> Response:
    """The same stream again, after ``Last-Event-ID``: nothing missed, nothing twice.
    204 when the job is finished and the client has seen its last event."""
    job = await load(store, job_id, caller)
    if job.kind != "ask":
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"job {job_id} is not an ask job")
    return await _stream_response(request, settings, store, job_id, after, caller.key_id)
