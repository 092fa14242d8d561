"""What the sync and async clients share: each route as a :class:`Call`, and the readers
that turn a stream's server-sent events into jobs and answer events while remembering
where to resume (``Last-Event-ID``).

No I/O here, so both clients send the same requests and read streams the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

import httpx
from httpx_sse import ServerSentEvent

from schemas.job import SETTLED, Job, JobPriority, JobStatus
from schemas.job_event import JobEvent
from sluice.client.errors import (
    AnswerFailed,
    DocumentNotFound,
    JobNotFound,
    NotFound,
    WaitTimedOut,
)

DEFAULT_TIMEOUT_SECONDS = 30.0
# /v1/search and /v1/ask wait on a worker: give them the server's own wait and some.
WORKER_WAIT_SECONDS = 180.0
# A stream the server keeps alive every 15 s: silence this long means the connection died.
STREAM_READ_SECONDS = 45.0
# Between reconnects: doubling from the first, capped.
FIRST_RECONNECT_SECONDS = 0.1
MAX_RECONNECT_SECONDS = 5.0
DEFAULT_MAX_RECONNECTS = 5
# Answers to a stream's request that mean "try again", not "this is wrong".
RECONNECT_STATUSES = frozenset({502, 503, 504})


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    body: Any = None
    not_found: type[NotFound] = NotFound
    # A multipart upload instead of a JSON body: form fields and {"file": (name, bytes)}.
    form: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes]] | None = None

    def content(self) -> dict[str, Any]:
        """httpx's body arguments for this call."""
        if self.files is not None:
            return {"data": self.form or {}, "files": self.files}
        return {"json": self.body}


def _present(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def job_body(
    kind: str,
    job_input: dict[str, Any] | None,
    idempotency_key: str | None = None,
    *,
    priority: JobPriority | str | None = None,
    run_at: datetime | None = None,
    delay_seconds: float | None = None,
    callback_url: str | None = None,
) -> dict[str, Any]:
    """One job as ``POST /v1/jobs`` (and each item of ``/v1/jobs:batch``) takes it."""
    return _present(
        kind=kind, input=job_input or {}, idempotency_key=idempotency_key,
        priority=None if priority is None else str(JobPriority(priority)),
        run_at=None if run_at is None else run_at.isoformat(),
        delay_seconds=delay_seconds, callback_url=callback_url,
    )


def submit(kind: str, job_input: dict[str, Any] | None, idempotency_key: str | None,
           **options: Any) -> Call:
    return Call("POST", "/v1/jobs", body=job_body(kind, job_input, idempotency_key, **options))


def submit_batch(jobs: list[dict[str, Any]]) -> Call:
    """``jobs``: each as :func:`job_body` makes it (a ``run_at`` datetime is converted)."""
    items = [
        {**job, "run_at": job["run_at"].isoformat()}
        if isinstance(job.get("run_at"), datetime) else job
        for job in jobs
    ]
    return Call("POST", "/v1/jobs:batch", body={"jobs": items})


def get_job(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{job_id}", not_found=JobNotFound)


def cancel(job_id: str) -> Call:
    return Call("POST", f"/v1/jobs/{job_id}/cancel", not_found=JobNotFound)


def list_jobs(
    status: JobStatus | str | None, kind: str | None, limit: int, cursor: str | None
) -> Call:
    status_value = JobStatus(status).value if status is not None else None
    params = _present(status=status_value, kind=kind, limit=limit, cursor=cursor)
    return Call("GET", "/v1/jobs", params=params)


def list_dlq(
    reason: str | None, schema: str | None, signature: str | None, kind: str | None,
    limit: int, cursor: str | None,
) -> Call:
    params = _present(reason=reason, schema=schema, signature=signature, kind=kind,
                      limit=limit, cursor=cursor)
    return Call("GET", "/v1/dlq", params=params)


def dead_letter(job_id: str) -> Call:
    return Call("GET", f"/v1/dlq/{job_id}", not_found=JobNotFound)


def dlq_action(job_id: str, action: str, body: dict[str, Any]) -> Call:
    """``requeue``, ``discard`` or ``resolve``; ``by`` and ``expected_version`` are optional."""
    return Call("POST", f"/v1/dlq/{job_id}/{action}", body=body, not_found=JobNotFound)


def put_document(
    source: str, content: str, doc_id: str | None, content_type: str,
    metadata: dict[str, Any] | None,
) -> Call:
    body = _present(source=source, content=content, doc_id=doc_id, content_type=content_type,
                    metadata=metadata)
    return Call("POST", "/v1/documents", body=body)


def upload_document(
    source: str, filename: str, data: bytes, doc_id: str | None,
    metadata: dict[str, Any] | None,
) -> Call:
    form = _present(source=source, doc_id=doc_id,
                    metadata=json.dumps(metadata) if metadata else None)
    return Call("POST", "/v1/documents", form=form, files={"file": (filename, data)})


def get_document(document_id: str) -> Call:
    return Call("GET", f"/v1/documents/{document_id}", not_found=DocumentNotFound)


def delete_document(document_id: str) -> Call:
    return Call("DELETE", f"/v1/documents/{document_id}", not_found=DocumentNotFound)


class RetrievalOptions(TypedDict, total=False):
    """How ``search`` and ``ask`` retrieve (each defaults to the server's settings)."""

    mode: str  # "dense", "sparse" (BM25) or "hybrid" (both, RRF-fused)
    rerank: bool  # with the cross-encoder; default: when the server has one configured
    expand: int  # LLM reformulations searched beside the question (0-5)
    self_query: bool  # filter by the source, document type and dates the question names


def search(query: str, k: int | None, source: str | None,
           options: RetrievalOptions | None = None) -> Call:
    params = _present(q=query, k=k, source=source, **(options or {}))
    for name, value in params.items():
        if isinstance(value, bool):  # a query string says true/false, not True/False
            params[name] = str(value).lower()
    return Call("GET", "/v1/search", params=params)


def ask_body(
    question: str, k: int | None, source: str | None, idempotency_key: str | None,
    options: RetrievalOptions | None = None,
) -> dict[str, Any]:
    return _present(question=question, k=k, source=source, idempotency_key=idempotency_key,
                    **(options or {}))


def reconnect_delays(limit: int) -> Iterator[float]:
    """The pauses before each of ``limit`` reconnects."""
    delay = FIRST_RECONNECT_SECONDS
    for _ in range(limit):
        yield delay
        delay = min(delay * 2, MAX_RECONNECT_SECONDS)


@dataclass
class JobWatch:
    """One job's ``/events`` stream across reconnects: the version seen last and the
    final job once the ``end`` event came."""

    job_id: str
    last_event_id: str | None = None
    last: JobEvent | None = None
    final: Job | None = None

    @property
    def path(self) -> str:
        return f"/v1/jobs/{self.job_id}/events"

    def headers(self) -> dict[str, str]:
        return {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}

    def read(self, sse: ServerSentEvent) -> JobEvent | None:
        """The ``job`` event in ``sse``, if it is one; an ``end`` sets :attr:`final`."""
        if sse.event == "end":
            self.final = Job.model_validate_json(sse.data)
            return None
        if sse.event != "job":
            return None
        event = JobEvent.model_validate_json(sse.data)
        self.last = event
        self.last_event_id = sse.id or str(event.version)
        return event

    def settled_without_end(self) -> bool:
        """A stream that stopped after a settled version (the end event lost with it)."""
        return self.last is not None and self.last.status in SETTLED


@dataclass(frozen=True)
class AnswerEvent:
    """One event of a streamed answer: ``sources``, ``token`` (``text``), ``retrying``,
    ``reset`` (discard the text so far: the model starts again) or ``done``."""

    event: str
    data: dict[str, Any]
    id: str | None = None

    @property
    def text(self) -> str:
        return str(self.data.get("text", "")) if self.event == "token" else ""


@dataclass
class AnswerWatch:
    """A streamed answer across reconnects: its job and the last event id seen."""

    body: dict[str, Any]
    job_id: str | None = None
    last_event_id: str | None = None
    done: bool = False

    def request(self) -> tuple[str, str, dict[str, Any] | None]:
        """The fresh POST, or once the job is known, the resume after the last event."""
        if self.job_id is None:
            return "POST", "/v1/ask/stream", self.body
        return "GET", f"/v1/ask/{self.job_id}/stream", None

    def headers(self) -> dict[str, str]:
        return {"Last-Event-ID": self.last_event_id} if self.last_event_id else {}

    def read(self, sse: ServerSentEvent) -> AnswerEvent | None:
        """The event to hand on; None for the stream's own ``job`` event. ``error``
        raises :class:`AnswerFailed`."""
        data: dict[str, Any] = json.loads(sse.data) if sse.data else {}
        if sse.event == "job":
            self.job_id = str(data["job_id"])
            return None
        if sse.id:
            self.last_event_id = sse.id
        if sse.event == "error":
            self.done = True
            raise AnswerFailed(str(data.get("error") or data.get("reason") or "the answer failed"),
                               extra={"job_id": self.job_id, **data})
        if sse.event == "done":
            self.done = True
        return AnswerEvent(sse.event, data, sse.id or None)


def stream_timeout(deadline: float | None) -> httpx.Timeout:
    read = STREAM_READ_SECONDS
    if deadline is not None:
        read = max(0.1, min(read, deadline - time.monotonic()))
    return httpx.Timeout(DEFAULT_TIMEOUT_SECONDS, read=read)


def check_deadline(deadline: float | None, watch: JobWatch) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        last = watch.last.status.value if watch.last else None
        raise WaitTimedOut(f"job {watch.job_id} did not settle in time (last seen: {last})",
                           job_id=watch.job_id, last_status=last)
