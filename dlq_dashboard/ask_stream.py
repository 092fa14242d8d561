"""An ask job's token stream as server-sent events, resumable with ``Last-Event-ID``.

The events are the worker's, relayed as written by :mod:`libs.web.token_event_stream`, each
with its stream id: ``sources``, ``token`` (many), ``reset`` (start over), ``done`` or
``error``. An ``EventSource`` that loses its connection comes back
on its own with the id of the last event it saw and gets only what follows. When the job is
over and the client has seen the end, the answer is 204, which tells an ``EventSource`` to
stop reconnecting. A stream whose events have expired ends with the job's own outcome.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from dlq_dashboard.services import Services
from libs.llm.token_stream import InvalidEventId, checked_event_id
from libs.web.token_event_stream import nothing_left, token_events
from schemas.job import Job, JobStatus

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


async def event_stream(
    request: Request, svc: Services, job_id: str, last_event_id: str | None
) -> Response:
    try:
        after = checked_event_id(last_event_id)
    except InvalidEventId as exc:
        raise HTTPException(400, detail=str(exc)) from None
    if await nothing_left(svc.store, svc.settings, job_id, after):
        return Response(status_code=204)
    return StreamingResponse(
        token_events(request, svc.store, svc.settings, job_id, after, ending=_ending),
        media_type="text/event-stream", headers=SSE_HEADERS)


def _ending(job: Job) -> str:
    """The last word on a job whose stream holds nothing more (expired, or it died first)."""
    result: dict[str, Any] = job.result or {}
    if job.status is JobStatus.SUCCEEDED:
        data = {"answer": result.get("answer"), "sources": result.get("sources", [])}
        return f"event: done\ndata: {json.dumps(data)}\n\n"
    data = {"status": job.status.value, "reason": job.reason, "error": job.error}
    return f"event: error\ndata: {json.dumps(data)}\n\n"
