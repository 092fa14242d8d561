"""The asyncio client: :class:`AsyncSluiceClient`, method for method the twin of
:class:`sluice.client.sync.SluiceClient` (the same calls and stream readers, from
:mod:`sluice.client.calls`), awaited.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Unpack

import httpx
from httpx_sse import aconnect_sse

from schemas.documents import DocumentDeleted, DocumentView, DocumentWritten
from schemas.job import Job, JobPage, JobPriority, JobStatus
from schemas.job_batch import BatchResult
from schemas.job_event import JobEvent
from schemas.retrieval import Answer, SearchResults
from sluice.client import calls
from sluice.client.calls import (
    DEFAULT_TIMEOUT_SECONDS,
    WORKER_WAIT_SECONDS,
    AnswerEvent,
    AnswerWatch,
    Call,
    JobWatch,
    auth_headers,
    check_deadline,
    stream_timeout,
)
from sluice.client.errors import JobNotFound, ServerError, StreamBroken, error_for


class AsyncSluiceClient:
    """``AsyncSluiceClient(url, api_key)``; use it ``async with`` or ``await aclose()``."""

    def __init__(
        self,
        base_url: str = "",
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_reconnects: int = calls.DEFAULT_MAX_RECONNECTS,
        transport: httpx.AsyncBaseTransport | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        """``http``: an httpx client to send through instead (its own base URL and
        headers; a test's ``TestClient``), which stays the caller's to close."""
        self.max_reconnects = max_reconnects
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            base_url=base_url, headers=auth_headers(api_key), timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncSluiceClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: Call, timeout: float | None = None) -> Any:
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        response = await self._http.request(
            call.method, call.path, params=call.params, **call.content(), **options
        )
        if response.is_error:
            raise error_for(response, call.not_found)
        return response.json()

    async def ready(self) -> bool:
        """Whether the API answers ``/readyz`` (its broker and store reachable); no key."""
        try:
            response = await self._http.get("/readyz")
        except httpx.TransportError:
            return False
        return response.status_code == 200

    # Jobs

    async def submit(
        self, kind: str, job_input: dict[str, Any] | None = None, *,
        idempotency_key: str | None = None,
        priority: JobPriority | str | None = None,
        run_at: datetime | None = None,
        delay_seconds: float | None = None,
        callback_url: str | None = None,
    ) -> Job:
        """Queue a job; the same ``idempotency_key`` again returns the first job.

        ``priority`` (high, normal, low) orders it among jobs waiting in the same queue;
        ``run_at`` (timezone-aware) or ``delay_seconds`` holds it, ``scheduled``, until then;
        ``callback_url`` is POSTed its signed summary when it settles (verify it with
        :func:`sluice.client.webhooks.verify_callback`)."""
        call = calls.submit(kind, job_input, idempotency_key, priority=priority, run_at=run_at,
                            delay_seconds=delay_seconds, callback_url=callback_url)
        return Job.model_validate(await self._send(call))

    async def submit_batch(self, jobs: list[dict[str, Any]]) -> BatchResult:
        """Submit up to ``SLUICE_MAX_BATCH_JOBS`` jobs in one request; each item is a dict
        of :meth:`submit`'s arguments (``kind``, ``input``, ``idempotency_key``, ...), and
        each gets its own result (``items[i].status``: 201, 200, 409 or 422): one refused
        item never loses the others."""
        return BatchResult.model_validate(await self._send(calls.submit_batch(jobs)))

    async def get(self, job_id: str) -> Job:
        return Job.model_validate(await self._send(calls.get_job(job_id)))

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not started; :class:`Conflict` once it has."""
        return Job.model_validate(await self._send(calls.cancel(job_id)))

    async def list_jobs(
        self, *, status: JobStatus | str | None = None, kind: str | None = None,
        limit: int = 50, cursor: str | None = None,
    ) -> JobPage:
        call = calls.list_jobs(status, kind, limit, cursor)
        return JobPage.model_validate(await self._send(call))

    async def iter_jobs(
        self, *, status: JobStatus | str | None = None, kind: str | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[Job]:
        """Every job, newest first, fetching the next page as the last one runs out."""
        cursor: str | None = None
        while True:
            page = await self.list_jobs(status=status, kind=kind, limit=page_size, cursor=cursor)
            for job in page.items:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def wait(
        self, job_id: str, *, timeout: float | None = None,
        on_event: Callable[[JobEvent], Awaitable[None] | None] | None = None,
    ) -> Job:
        """The job once it settles, following its events (``on_event`` sees each); a
        dropped connection resumes after the last version seen. :class:`WaitTimedOut`
        when ``timeout`` seconds pass first."""
        watch = JobWatch(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        delays = calls.reconnect_delays(self.max_reconnects)
        while True:
            progressed = False
            try:
                async with aconnect_sse(
                    self._http, "GET", watch.path, headers=watch.headers(),
                    timeout=stream_timeout(deadline),
                ) as source:
                    if source.response.is_error:
                        await source.response.aread()
                        raise error_for(source.response, JobNotFound)
                    async for sse in source.aiter_sse():
                        event = watch.read(sse)
                        if watch.final is not None:
                            return watch.final
                        if event is not None:
                            progressed = True
                            if on_event is not None:
                                outcome = on_event(event)
                                if outcome is not None:
                                    await outcome
                        check_deadline(deadline, watch)
            except httpx.TransportError as exc:
                broken: Exception = exc
            except ServerError as exc:
                if exc.status not in calls.RECONNECT_STATUSES:
                    raise
                broken = exc  # a proxy or load balancer while the API restarts
            else:
                broken = StreamBroken(f"the events of job {job_id} ended without an end")
            if watch.settled_without_end():
                return await self.get(job_id)
            check_deadline(deadline, watch)
            if progressed:
                delays = calls.reconnect_delays(self.max_reconnects)
            delay = next(delays, None)
            if delay is None:
                raise StreamBroken(f"lost the events of job {job_id}: {broken}") from broken
            await asyncio.sleep(delay)

    # The dead-letter queue

    async def list_dlq(
        self, *, reason: str | None = None, schema: str | None = None,
        signature: str | None = None, kind: str | None = None, limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        call = calls.list_dlq(reason, schema, signature, kind, limit, cursor)
        return JobPage.model_validate(await self._send(call))

    async def iter_dlq(
        self, *, reason: str | None = None, schema: str | None = None,
        signature: str | None = None, kind: str | None = None, page_size: int = 50,
    ) -> AsyncIterator[Job]:
        """Every dead-lettered job, newest first, page after page."""
        cursor: str | None = None
        while True:
            page = await self.list_dlq(reason=reason, schema=schema, signature=signature, kind=kind,
                                 limit=page_size, cursor=cursor)
            for job in page.items:
                yield job
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def dead_letter(self, job_id: str) -> Job:
        """A job that was dead-lettered, with every attempt and its audit trail."""
        return Job.model_validate(await self._send(calls.dead_letter(job_id)))

    async def requeue(
        self, job_id: str, *, job_input: dict[str, Any] | None = None, hint: str | None = None,
        by: str | None = None, expected_version: int | None = None,
    ) -> Job:
        """Run a dead job again as a new job (returned); ``job_input`` replaces its input."""
        body = {"input": job_input, "hint": hint, "by": by, "expected_version": expected_version}
        return Job.model_validate(await self._send(calls.dlq_action(job_id, "requeue", body)))

    async def discard(
        self, job_id: str, reason: str, *, by: str | None = None,
        expected_version: int | None = None,
    ) -> Job:
        body = {"reason": reason, "by": by, "expected_version": expected_version}
        return Job.model_validate(await self._send(calls.dlq_action(job_id, "discard", body)))

    async def resolve(
        self, job_id: str, record: dict[str, Any], *, by: str | None = None,
        expected_version: int | None = None,
    ) -> Job:
        """Accept a corrected record; :class:`InvalidRequest` names its invalid fields."""
        body = {"record": record, "by": by, "expected_version": expected_version}
        return Job.model_validate(await self._send(calls.dlq_action(job_id, "resolve", body)))

    # Documents, search, answers

    async def put_document(
        self, source: str, content: str, *, doc_id: str | None = None,
        content_type: str = "text/plain", metadata: dict[str, Any] | None = None,
    ) -> DocumentWritten:
        call = calls.put_document(source, content, doc_id, content_type, metadata)
        return DocumentWritten.model_validate(await self._send(call))

    async def upload_document(
        self, source: str, filename: str, data: bytes, *, doc_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> DocumentWritten:
        """Upload a file (PDF, DOCX, text) as ``multipart/form-data``; the API sniffs its
        type from its bytes (415 when unreadable) and checks its size (413)."""
        call = calls.upload_document(source, filename, data, doc_id, metadata)
        return DocumentWritten.model_validate(await self._send(call))

    async def get_document(self, document_id: str) -> DocumentView:
        return DocumentView.model_validate(await self._send(calls.get_document(document_id)))

    async def delete_document(self, document_id: str) -> DocumentDeleted:
        return DocumentDeleted.model_validate(await self._send(calls.delete_document(document_id)))

    async def search(self, query: str, *, k: int | None = None,
               source: str | None = None,
               **options: Unpack[calls.RetrievalOptions]) -> SearchResults:
        """The chunks nearest ``query``; ``options``: mode, rerank, expand, self_query."""
        call = calls.search(query, k, source, options)
        return SearchResults.model_validate(await self._send(call, timeout=WORKER_WAIT_SECONDS))

    async def ask(self, question: str, *, k: int | None = None, source: str | None = None,
            idempotency_key: str | None = None,
            **options: Unpack[calls.RetrievalOptions]) -> Answer:
        """The whole answer at once (the server waits for it)."""
        call = Call("POST", "/v1/ask",
                    body=calls.ask_body(question, k, source, idempotency_key, options))
        return Answer.model_validate(await self._send(call, timeout=WORKER_WAIT_SECONDS))

    async def ask_stream(
        self, question: str, *, k: int | None = None, source: str | None = None,
        idempotency_key: str | None = None, **options: Unpack[calls.RetrievalOptions],
    ) -> AsyncIterator[AnswerEvent]:
        """The answer as the model writes it: ``sources``, ``token``s, ``done``. A dropped
        connection resumes after the last event; without an ``idempotency_key`` one is made
        up, so a retry before the job is known cannot ask twice."""
        key = idempotency_key or f"ask-{uuid.uuid4()}"
        watch = AnswerWatch(calls.ask_body(question, k, source, key, options))
        delays = calls.reconnect_delays(self.max_reconnects)
        while not watch.done:
            progressed = False
            method, path, body = watch.request()
            try:
                async with aconnect_sse(
                    self._http, method, path, json=body, headers=watch.headers(),
                    timeout=stream_timeout(None),
                ) as source_:
                    response = source_.response
                    if response.is_error:
                        await response.aread()
                        raise error_for(response, JobNotFound)
                    watch.job_id = watch.job_id or response.headers.get("X-Sluice-Job-Id")
                    if response.status_code == 204:
                        return  # nothing after the last event seen: the answer is complete
                    async for sse in source_.aiter_sse():
                        event = watch.read(sse)
                        if event is not None:
                            progressed = True
                            yield event
                        if watch.done:
                            return
            except httpx.TransportError as exc:
                broken: Exception = exc
            except ServerError as exc:
                if exc.status not in calls.RECONNECT_STATUSES:
                    raise
                broken = exc  # a proxy or load balancer while the API restarts
            else:
                broken = StreamBroken("the answer's stream ended without done")
            if progressed:
                delays = calls.reconnect_delays(self.max_reconnects)
            delay = next(delays, None)
            if delay is None:
                raise StreamBroken(f"lost the answer's stream: {broken}") from broken
            await asyncio.sleep(delay)

