"""The document warehouse: the raw documents (emails, crawled pages, API uploads) that get embedded.

One row per ``(source, doc_id)``. A write stores the raw content and, only when the content
changed, enqueues an ``embed`` job that carries nothing but the document's identity (claim
check: the worker reads the latest content from here, so racing writes converge on the last
one). A delete removes the row and enqueues a ``delete`` job that removes every vector.

SQLite (the ``documents`` table next to the jobs) in embedded mode; a PostgreSQL table when
``SLUICE_DATABASE_URL`` is set (:mod:`libs.documents.postgres`); a MongoDB collection when
``SLUICE_MONGODB_URL`` is set, whose change stream can drive re-embedding instead
(``SLUICE_WAREHOUSE_CHANGE_STREAM``).

Producers call :func:`put_document` and :func:`delete_document`; workers call
:meth:`DocumentStore.raise_high_water` and :meth:`DocumentStore.mark_indexed`.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from celery import Celery

from libs.documents.model import (
    SLUICE_NAMESPACE,
    ConcurrentDocumentWrite,
    ContentType,
    Document,
    DocumentNotFound,
    DocumentOfAnotherTenant,
    DocumentRef,
    DocumentStore,
    WriteOutcome,
    content_hash,
    default_doc_id,
    document_id,
)
from libs.documents.mongo import MongoDocumentStore
from libs.documents.sqlite import SQLiteDocumentStore
from schemas.job import Job
from schemas.principal import DEFAULT_TENANT
from sluice.enqueue import submit
from sluice.errors import KindsNotLoaded
from sluice.kinds import loaded_kinds
from sluice.settings import Settings, get_settings
from sluice.stores.base import JobStore


def open_documents(settings: Settings) -> DocumentStore:
    if settings.database_url is not None:
        from libs.documents.postgres import PostgresDocumentStore

        return PostgresDocumentStore(
            settings.database_url.get_secret_value(), settings.database_pool_size
        )
    if settings.mongodb_url is not None:
        return MongoDocumentStore(
            settings.mongodb_url.get_secret_value(), settings.mongodb_database
        )
    return SQLiteDocumentStore(settings.sqlite_path)


@functools.cache
def get_documents() -> DocumentStore:
    """The process-wide warehouse for the process-wide settings."""
    return open_documents(get_settings())


# ---- what producers call --------------------------------------------------------------


EMBED_KIND = "embed"


def embedding_here() -> bool:
    """Whether this process can queue ``embed`` (an install without the embedding extra
    has no such kind). Without a loaded table, ``submit`` says what is wrong."""
    try:
        return EMBED_KIND in loaded_kinds()
    except KindsNotLoaded:
        return True


def enqueue_embed(
    document: Document, *, documents: DocumentStore, store: JobStore, celery: Celery,
    settings: Settings,
) -> Job:
    """Queue an ``embed`` job for the document's current content (also used by `sluice cdc`)."""
    job, _ = submit(
        EMBED_KIND,
        {"document_id": document.id, "source": document.source, "doc_id": document.doc_id,
         "content_hash": document.content_hash},
        store=store, celery=celery, settings=settings, tenant=document.tenant,
    )
    documents.set_embed_job(document.id, job.id)
    return job


def put_document(
    documents: DocumentStore,
    *,
    store: JobStore,
    celery: Celery,
    settings: Settings,
    source: str,
    content: str,
    doc_id: str | None = None,
    content_type: ContentType | str = ContentType.TEXT,
    metadata: dict[str, Any] | None = None,
    tenant: str = DEFAULT_TENANT,
) -> tuple[Document, bool]:
    """Store a document; queue ``embed`` only when its content changed. Returns
    ``(document, changed)``; ``document.embed_job_id`` names the job when one was queued.

    Re-sending unchanged content (a re-crawl, a re-delivered email) writes nothing and
    queues nothing. With ``SLUICE_WAREHOUSE_CHANGE_STREAM`` the change stream queues instead.
    Without the embedding extra the document is kept, unindexed, and nothing is queued:
    crawls and email intake still work on a core install.
    """
    kind = ContentType(content_type)
    key = doc_id or default_doc_id(content, kind)
    outcome = documents.write(
        source=source, doc_id=key, content=content, content_type=kind,
        metadata=json.loads(json.dumps(metadata or {})), tenant=tenant,
    )
    document = outcome.document
    if outcome.changed and not settings.warehouse_change_stream and embedding_here():
        job = enqueue_embed(
            document, documents=documents, store=store, celery=celery, settings=settings
        )
        document = document.model_copy(update={"embed_job_id": job.id})
    return document, outcome.changed


def delete_document(
    documents: DocumentStore,
    *,
    store: JobStore,
    celery: Celery,
    settings: Settings,
    document_id: str,
) -> tuple[Document | None, Job | None]:
    """Remove a document and queue a ``delete`` job for its vectors.

    Returns the removed document (None when it did not exist) and the job. The job is
    queued even for an unknown id's (source, doc_id) only when the row existed: vectors
    without a row cannot be named by id. With ``SLUICE_WAREHOUSE_CHANGE_STREAM`` no job is
    queued here (None): the change stream's delete event queues it, once.
    """
    removed = documents.remove(document_id)
    if removed is None or settings.warehouse_change_stream:
        # In change-stream mode `sluice cdc` queues the delete from the stream's event.
        return removed, None
    job, _ = submit(
        "delete",
        {"document_id": removed.id, "source": removed.source, "doc_id": removed.doc_id},
        store=store, celery=celery, settings=settings, tenant=removed.tenant,
    )
    return removed, job


__all__ = [
    "SLUICE_NAMESPACE",
    "ConcurrentDocumentWrite",
    "ContentType",
    "Document",
    "DocumentNotFound",
    "DocumentOfAnotherTenant",
    "DocumentRef",
    "DocumentStore",
    "MongoDocumentStore",
    "SQLiteDocumentStore",
    "WriteOutcome",
    "content_hash",
    "default_doc_id",
    "delete_document",
    "document_id",
    "enqueue_embed",
    "get_documents",
    "open_documents",
    "put_document",
]
