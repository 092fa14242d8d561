"""The Ask page: ask the indexed documents a question and watch the answer being written.

A viewer (and up) picks a source, or uploads a file first, and asks. The question becomes
an ``ask`` job exactly as ``POST /v1/ask/stream`` makes one (same kind, same worker, same
LLM budgets; the key-scoped ones count per dashboard user, as ``user:<name>``), and the page
reads its token stream through :mod:`dlq_dashboard.ask_stream`, a server-sent-event stream
that an ``EventSource`` resumes by itself after a dropped connection (``Last-Event-ID``).
Each answer cites its sources as [n]; a citation opens the chunk it names, with its file
and page. An uploaded file goes to the warehouse as a document of its own source
(``upload:<sha256 prefix>``), so the question can be asked of that file alone.

The dashboard's users work across tenants; the Ask page asks the default tenant's documents.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dlq_dashboard.ask_stream import event_stream
from dlq_dashboard.auth import CsrfChecked, ServicesDep, Viewer
from dlq_dashboard.services import Services
from dlq_dashboard.views import render
from libs.documents.warehouse import (
    DocumentNotFound,
    DocumentStore,
    open_documents,
    put_document,
)
from libs.files.sniffing import UnsupportedFile, sniff
from schemas.job import Job, JobStatus
from sluice.enqueue import submit
from sluice.errors import JobNotFound, KindsNotLoaded, UnknownKind

router = APIRouter()
MAX_QUESTION_CHARS = 4000
UPLOAD_SOURCE_PREFIX = "upload:"


def documents_of(request: Request) -> DocumentStore:
    documents: DocumentStore | None = getattr(request.app.state, "documents", None)
    if documents is None:
        documents = open_documents(request.app.state.services.settings)
        request.app.state.documents = documents
    return documents


@router.get("/ask", response_class=HTMLResponse)
def ask_page(request: Request, user: Viewer) -> Response:
    settings = request.app.state.services.settings
    return render(request, "ask.html", {"max_bytes": settings.files_max_bytes})


@router.post("/ask/jobs")
def ask_job(
    svc: ServicesDep,
    user: Viewer,
    _csrf: CsrfChecked,
    question: Annotated[str, Form(max_length=MAX_QUESTION_CHARS)],
    source: Annotated[str, Form(max_length=200)] = "",
    k: Annotated[int | None, Form(ge=1, le=50)] = None,
) -> dict[str, Any]:
    """Submit the ``ask`` job; the page then opens ``/ask/jobs/{id}/stream``."""
    if not question.strip():
        raise HTTPException(422, detail="ask a question")
    job_input: dict[str, Any] = {"question": question.strip()}
    if source.strip():
        job_input["source"] = source.strip()
    if k is not None:
        job_input["k"] = k
    try:
        job, _ = submit("ask", job_input, store=svc.store, celery=svc.celery,
                        settings=svc.settings, api_key_id=f"user:{user.name}")
    except (UnknownKind, KindsNotLoaded) as exc:
        raise HTTPException(503, detail=f"answers are not available here: {exc}") from None
    return {"job_id": job.id}


@router.get("/ask/jobs/{job_id}/stream")
async def ask_stream(request: Request, job_id: str, svc: ServicesDep, user: Viewer) -> Response:
    """The answer's events after ``Last-Event-ID``; 204 once the client has seen the end."""
    job = await run_in_threadpool(job_or_none, svc, job_id)
    if job is None or job.kind != "ask":
        raise HTTPException(404, detail=f"no ask job {job_id}")
    return await event_stream(request, svc, job_id, request.headers.get("Last-Event-ID"))


@router.post("/ask/upload")
async def upload(
    request: Request,
    svc: ServicesDep,
    user: Viewer,
    _csrf: CsrfChecked,
    file: Annotated[UploadFile, File()],
) -> Response:
    """Store the file as a document of its own source; the page waits until it is indexed."""
    settings = svc.settings
    data = await file.read(settings.files_max_bytes + 1)
    name = file.filename or "upload"
    if len(data) > settings.files_max_bytes:
        return JSONResponse({"detail": f"{name} is larger than {settings.files_max_bytes} "
                             "bytes"}, status_code=413)
    try:
        kind = sniff(data, name)
    except UnsupportedFile as exc:
        return JSONResponse({"detail": str(exc)}, status_code=415)
    source = UPLOAD_SOURCE_PREFIX + hashlib.sha256(data).hexdigest()[:16]
    content = base64.b64encode(data).decode() if kind.is_file else data.decode("utf-8-sig")
    documents = documents_of(request)

    def write() -> Any:
        return put_document(
            documents, store=svc.store, celery=svc.celery, settings=settings, source=source,
            doc_id=name, content=content, content_type=kind,
            metadata={"filename": name, "size": len(data), "uploaded_by": user.name},
        )

    document, _ = await run_in_threadpool(write)
    return JSONResponse({"source": source, "document_id": document.id, "filename": name,
                         "embed_job_id": document.embed_job_id})


@router.get("/ask/documents/{document_id}")
def document_state(
    request: Request, document_id: str, svc: ServicesDep, user: Viewer
) -> dict[str, Any]:
    """Whether an uploaded file is indexed yet, or why it never will be."""
    try:
        document = documents_of(request).get(document_id)
    except DocumentNotFound:
        raise HTTPException(404, detail=f"no document {document_id}") from None
    state: dict[str, Any] = {"indexed": document.indexed, "chunks": document.chunk_count}
    job = job_or_none(svc, document.embed_job_id) if document.embed_job_id else None
    if job is None:
        return state
    if job.result and job.result.get("needs_ocr"):
        state["error"] = "the file has no text layer (a scanned PDF): it needs OCR"
    elif job.settled and job.status is not JobStatus.SUCCEEDED:
        state["error"] = job.error or job.status.value
    return state


def job_or_none(svc: Services, job_id: str) -> Job | None:
    try:
        return svc.store.get(job_id)
    except JobNotFound:
        return None
