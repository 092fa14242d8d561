"""The document warehouse over HTTP: post text, HTML, an email or a file; read it; delete it.

A post is a JSON body, or ``multipart/form-data`` with a file (PDF, DOCX, text; see
:mod:`producers.api.uploads`): ``sluice docs put FILE...`` sends those.

A post that changes a document's content queues an ``embed`` job; an unchanged re-post
queues nothing. A delete queues a ``delete`` job for its vectors. ``chunk_count`` shows
how many chunks Qdrant holds once the embed job finished (``indexed`` says whether they
are of the current content). A document belongs to the tenant of the key that first put
it; another tenant's document is a 404 to read, replace or delete.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from libs.documents.warehouse import (
    ContentType,
    Document,
    DocumentNotFound,
    DocumentOfAnotherTenant,
    DocumentStore,
    delete_document,
    open_documents,
    put_document,
)
from libs.files.sniffing import UnsupportedFile, sniff
from producers.api.auth import DocumentWriter, Reader, owned
from producers.api.dependencies import CeleryDep, SettingsDep, StoreDep
from producers.api.rate_limit import SubmissionAllowed
from producers.api.responses import errors
from producers.api.uploads import DocumentUpload, is_upload, read_upload, validated
from schemas.bounded_json import BoundedObject
from sluice.settings import Settings

router = APIRouter(prefix="/v1/documents", tags=["documents"])


def documents_of(request: Request) -> DocumentStore:
    """The app's warehouse, opened on first use (closed with the process)."""
    documents: DocumentStore | None = getattr(request.app.state, "documents", None)
    if documents is None:
        settings: Settings = request.app.state.settings
        documents = open_documents(settings)
        request.app.state.documents = documents
    return documents


class DocumentRequest(BaseModel):
    source: str = Field(min_length=1, max_length=200, examples=["handbook"])
    doc_id: str | None = Field(
        None, min_length=1, max_length=500,
        description="Your id for the document. Unset: an email's Message-ID, else a hash of "
        "the content.",
    )
    content: str = Field(min_length=1)
    content_type: ContentType = ContentType.TEXT
    metadata: BoundedObject = Field(default_factory=dict)

    @model_validator(mode="after")
    def _file_content_is_base64(self) -> DocumentRequest:
        if not self.content_type.is_file:
            return self
        try:
            data = base64.b64decode(self.content, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                f"the content of a {self.content_type.value} document is its bytes in "
                "base64 (or upload the file as multipart/form-data)"
            ) from None
        try:  # the bytes decide, as for an upload
            found = sniff(data).value
        except UnsupportedFile as exc:
            found = exc.found
        if found != self.content_type.value:
            raise ValueError(f"the content is {found}, not {self.content_type.value}")
        return self


class DocumentView(BaseModel):
    id: str
    source: str
    doc_id: str
    content_type: ContentType
    content_hash: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    chunk_count: int | None
    indexed: bool
    indexed_at: datetime | None
    embed_job_id: str | None
    tenant: str
    content: str | None = None

    @classmethod
    def of(cls, document: Document, *, with_content: bool) -> DocumentView:
        return cls(
            **document.model_dump(exclude={"content", "chunk_high_water", "indexed_hash"}),
            indexed=document.indexed,
            content=document.content if with_content else None,
        )


class DocumentWritten(BaseModel):
    document: DocumentView
    changed: bool
    embed_job_id: str | None = Field(description="The embed job queued by this write, if any.")


_BODIES: dict[str, type[BaseModel]] = {
    "application/json": DocumentRequest, "multipart/form-data": DocumentUpload,
}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=DocumentWritten,
    responses={200: {"model": DocumentWritten,
                     "description": "The same content again: nothing changed."},
               **errors(415)},
    openapi_extra={"requestBody": {"required": True, "content": {
        media: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
        for media, model in _BODIES.items()}}},
)
async def post_document(
    request: Request,
    response: Response,
    caller: DocumentWriter,
    _rate: SubmissionAllowed,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
) -> DocumentWritten:
    """Store a document; 201 when its content is new or changed (embedding queued), 200
    when it was already stored as is. A JSON body, or a file as ``multipart/form-data``
    (fields ``file``, ``source``, ``doc_id``, ``metadata``): its type is sniffed from its
    bytes (415 when not PDF, DOCX or UTF-8 text), its size checked against
    ``SLUICE_FILES_MAX_BYTES`` (413)."""
    if is_upload(request):
        body = validated(DocumentRequest, await read_upload(request, settings))
    else:
        body = validated(DocumentRequest, await request.body())
    documents = documents_of(request)

    def write() -> tuple[Document, bool]:
        return put_document(
            documents, store=store, celery=celery, settings=settings, source=body.source,
            doc_id=body.doc_id, content=body.content, content_type=body.content_type,
            metadata=body.metadata, tenant=caller.tenant,
        )

    try:
        document, changed = await run_in_threadpool(write)
    except DocumentOfAnotherTenant as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    if not changed:
        response.status_code = status.HTTP_200_OK
    return DocumentWritten(
        document=DocumentView.of(document, with_content=False),
        changed=changed,
        embed_job_id=document.embed_job_id if changed else None,
    )


@router.get("/{document_id}", response_model=DocumentView)
async def get_document(document_id: str, request: Request, caller: Reader) -> DocumentView:
    documents = documents_of(request)
    try:
        document = await run_in_threadpool(documents.get, document_id)
    except DocumentNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    owned(caller, document.tenant, f"document {document_id}")
    return DocumentView.of(document, with_content=True)


@router.delete("/{document_id}", status_code=status.HTTP_202_ACCEPTED)
async def remove_document(
    document_id: str,
    request: Request,
    caller: DocumentWriter,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Remove the document now; its vectors go with the queued ``delete`` job (queued by
    `sluice cdc` in change-stream mode, when ``delete_job_id`` is null)."""
    documents = documents_of(request)
    try:
        current = await run_in_threadpool(documents.get, document_id)
    except DocumentNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    owned(caller, current.tenant, f"document {document_id}")

    def remove() -> Any:
        return delete_document(
            documents, store=store, celery=celery, settings=settings, document_id=document_id
        )

    removed, job = await run_in_threadpool(remove)
    if removed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no document {document_id}")
    # None in change-stream mode: `sluice cdc` queues the delete from the stream.
    return {"document_id": document_id, "delete_job_id": job.id if job else None}


def install_openapi_bodies(app: Any) -> None:
    """Put the two request bodies of ``POST /v1/documents`` into the OpenAPI's components
    (the route declares them by reference: it reads its body itself, by content type)."""
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build_openapi()
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            for model in _BODIES.values():
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(body.pop("$defs", {}))
                components[model.__name__] = body
        schema: dict[str, Any] = app.openapi_schema or build_openapi()
        return schema

    app.openapi = openapi
