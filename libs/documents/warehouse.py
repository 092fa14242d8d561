"""The document warehouse: the raw documents (emails, crawled pages, API uploads) that get embedded.

One row per ``(source, doc_id)``. A write stores the raw content and, only when the content
changed, enqueues an ``embed`` job that carries nothing but the document's identity (claim
check: the worker reads the latest content from here, so racing writes converge on the last
one). A delete removes the row and enqueues a ``delete`` job that removes every vector.

SQLite (the ``documents`` table next to the jobs) in embedded mode; a MongoDB collection when
``SLUICE_MONGODB_URL`` is set, whose change stream can drive re-embedding instead
(``SLUICE_WAREHOUSE_CHANGE_STREAM``).

Producers call :func:`put_document` and :func:`delete_document`; workers call
:meth:`DocumentStore.raise_high_water` and :meth:`DocumentStore.mark_indexed`.
"""

from __future__ import annotations

import email
import email.policy
import functools
import hashlib
import json
import sqlite3
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from celery import Celery
from pydantic import BaseModel, Field
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from schemas.job import Job, utcnow
from sluice.enqueue import submit
from sluice.settings import Settings, get_settings
from sluice.stores.base import JobStore
from sluice.stores.mongo import MongoClients
from sluice.stores.sqlite_db import SQLiteConnections

# Fixed namespace: document and point ids must be the same on every machine, forever.
SLUICE_NAMESPACE = uuid.UUID("6f2d8a4e-3c1b-5e7f-9a0d-2b4c6e8f1a3d")
MAX_PUT_ATTEMPTS = 20


class ContentType(StrEnum):
    TEXT = "text/plain"
    HTML = "text/html"
    EMAIL = "message/rfc822"


class Document(BaseModel):
    """A stored document and how far its vectors have caught up with it."""

    id: str
    source: str
    doc_id: str
    content_type: ContentType = ContentType.TEXT
    content: str
    # sha256 of content type and content: what decides whether a write changed anything.
    content_hash: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # Chunks in Qdrant for ``indexed_hash``; None until the first embed finished.
    chunk_count: int | None = None
    indexed_hash: str | None = None
    indexed_at: datetime | None = None
    # Highest chunk count ever written for this document, raised BEFORE an upsert: a crash
    # between upsert and bookkeeping can never hide a tail chunk from the next run.
    chunk_high_water: int = 0
    embed_job_id: str | None = None

    @property
    def indexed(self) -> bool:
        return self.indexed_hash == self.content_hash


class DocumentNotFound(KeyError):
    def __init__(self, document_id: str) -> None:
        super().__init__(document_id)
        self.document_id = document_id

    def __str__(self) -> str:
        return f"no document {self.document_id}"


class ConcurrentDocumentWrite(Exception):
    """A document kept changing under a write; the write was not applied."""


def document_id(source: str, doc_id: str) -> str:
    """The warehouse id of ``(source, doc_id)``: stable, so a re-post finds its row."""
    return uuid.uuid5(SLUICE_NAMESPACE, f"{source}\n{doc_id}").hex


def content_hash(content: str, content_type: ContentType | str) -> str:
    return hashlib.sha256(f"{ContentType(content_type).value}\n{content}".encode()).hexdigest()


def default_doc_id(content: str, content_type: ContentType | str) -> str:
    """A doc id for callers that give none: an email's Message-ID, else the content hash.

    Content-addressed ids make a re-post of the same text a no-op; an edit of such a
    document is a new document, which is why callers with a natural id should pass it.
    """
    if ContentType(content_type) is ContentType.EMAIL:
        message = email.message_from_string(content, policy=email.policy.default)
        message_id = str(message.get("Message-ID", "")).strip()
        if message_id:
            return message_id
    return "sha256:" + content_hash(content, content_type)[:32]


@dataclass(frozen=True)
class WriteOutcome:
    document: Document
    changed: bool


class DocumentStore(ABC):
    """Backend primitives; the rules (what counts as a change, what gets queued) are in
    :func:`put_document` and :func:`delete_document`."""

    @abstractmethod
    def get(self, document_id: str) -> Document:
        """The document, or :class:`DocumentNotFound`."""

    @abstractmethod
    def write(
        self,
        *,
        source: str,
        doc_id: str,
        content: str,
        content_type: ContentType,
        metadata: dict[str, Any],
    ) -> WriteOutcome:
        """Insert or update; ``changed`` is True when the content hash is new."""

    @abstractmethod
    def set_embed_job(self, document_id: str, job_id: str) -> None: ...

    @abstractmethod
    def remove(self, document_id: str) -> Document | None:
        """Delete the row; the removed document, or None when there was none."""

    @abstractmethod
    def raise_high_water(self, document_id: str, chunks: int) -> None:
        """Record that up to ``chunks`` chunks may exist in Qdrant (never lowers it)."""

    @abstractmethod
    def mark_indexed(self, document_id: str, indexed_hash: str, chunk_count: int) -> None:
        """Qdrant holds exactly ``chunk_count`` chunks of content ``indexed_hash``."""

    @abstractmethod
    def count(self, source: str | None = None) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def get_by_key(self, source: str, doc_id: str) -> Document:
        return self.get(document_id(source, doc_id))


# ---- SQLite ---------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    chunk_high_water INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL,
    UNIQUE (source, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_source ON documents (source, updated_at);
"""


class SQLiteDocumentStore(DocumentStore):
    """The ``documents`` table in the embedded SQLite file, shared with the job store."""

    def __init__(self, path: Path) -> None:
        self._db = SQLiteConnections(path, SCHEMA)

    def _load(self, connection: sqlite3.Connection, document_id: str) -> Document | None:
        row = connection.execute(
            "SELECT doc, chunk_high_water FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        if row is None:
            return None
        document = Document.model_validate_json(row[0])
        document.chunk_high_water = int(row[1])
        return document

    def _save(self, connection: sqlite3.Connection, document: Document) -> None:
        connection.execute(
            "INSERT INTO documents (id, source, doc_id, content_hash, updated_at,"
            " chunk_high_water, doc) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET content_hash = excluded.content_hash,"
            " updated_at = excluded.updated_at,"
            " chunk_high_water = MAX(chunk_high_water, excluded.chunk_high_water),"
            " doc = excluded.doc",
            (
                document.id, document.source, document.doc_id, document.content_hash,
                document.updated_at.isoformat(), document.chunk_high_water,
                document.model_dump_json(),
            ),
        )

    def get(self, document_id: str) -> Document:
        document = self._load(self._db.get(), document_id)
        if document is None:
            raise DocumentNotFound(document_id)
        return document

    def _update(self, document_id: str, change: Any) -> Document | None:
        """Read-modify-write under SQLite's write lock (``BEGIN IMMEDIATE``)."""
        connection = self._db.get()
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = self._load(connection, document_id)
            updated = change(current)
            if updated is not None:
                self._save(connection, updated)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return updated if updated is not None else current

    def write(
        self,
        *,
        source: str,
        doc_id: str,
        content: str,
        content_type: ContentType,
        metadata: dict[str, Any],
    ) -> WriteOutcome:
        changed: list[bool] = []

        def change(current: Document | None) -> Document | None:
            new = _written(current, source, doc_id, content, content_type, metadata)
            changed.append(current is None or current.content_hash != new.content_hash)
            return None if new == current else new

        document = self._update(document_id(source, doc_id), change)
        assert document is not None
        return WriteOutcome(document, changed[-1])

    def set_embed_job(self, document_id: str, job_id: str) -> None:
        def change(current: Document | None) -> Document | None:
            if current is None:
                return None
            return current.model_copy(update={"embed_job_id": job_id})

        self._update(document_id, change)

    def remove(self, document_id: str) -> Document | None:
        connection = self._db.get()
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = self._load(connection, document_id)
            connection.execute("DELETE FROM documents WHERE id = ?", (document_id,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return current

    def raise_high_water(self, document_id: str, chunks: int) -> None:
        self._db.get().execute(
            "UPDATE documents SET chunk_high_water = MAX(chunk_high_water, ?) WHERE id = ?",
            (chunks, document_id),
        )

    def mark_indexed(self, document_id: str, indexed_hash: str, chunk_count: int) -> None:
        def change(current: Document | None) -> Document | None:
            if current is None:
                return None
            return current.model_copy(
                update={
                    "indexed_hash": indexed_hash,
                    "chunk_count": chunk_count,
                    "indexed_at": utcnow(),
                }
            )

        self._update(document_id, change)
        # Only now may the high-water mark come down: the tail beyond it is gone.
        self._db.get().execute(
            "UPDATE documents SET chunk_high_water = ? WHERE id = ?", (chunk_count, document_id)
        )

    def count(self, source: str | None = None) -> int:
        if source is None:
            row = self._db.get().execute("SELECT COUNT(*) FROM documents").fetchone()
        else:
            row = self._db.get().execute(
                "SELECT COUNT(*) FROM documents WHERE source = ?", (source,)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()


def _written(
    current: Document | None,
    source: str,
    doc_id: str,
    content: str,
    content_type: ContentType,
    metadata: dict[str, Any],
) -> Document:
    """The document after a write of this content over ``current`` (None: a new one)."""
    digest = content_hash(content, content_type)
    if current is None:
        return Document(
            id=document_id(source, doc_id), source=source, doc_id=doc_id,
            content_type=content_type, content=content, content_hash=digest, metadata=metadata,
        )
    if current.content_hash == digest and current.metadata == metadata:
        return current
    return current.model_copy(
        update={
            "content_type": content_type,
            "content": content,
            "content_hash": digest,
            "metadata": metadata,
            "updated_at": utcnow(),
        }
    )


# ---- MongoDB --------------------------------------------------------------------------


def _to_mongo(document: Document) -> dict[str, Any]:
    data = document.model_dump(mode="json")
    data["_id"] = data.pop("id")
    return data


def _from_mongo(data: dict[str, Any]) -> Document:
    data = dict(data)
    data["id"] = data.pop("_id")
    return Document.model_validate(data)


class MongoDocumentStore(DocumentStore):
    """The ``documents`` collection; its change stream is what `sluice cdc` watches."""

    def __init__(self, url: str, database: str, collection: str = "documents") -> None:
        self._clients = MongoClients(url)
        self._database = database
        self._collection_name = collection
        self._collection.create_index(
            [("source", ASCENDING), ("doc_id", ASCENDING)], unique=True
        )

    @property
    def _collection(self) -> Any:
        return self._clients.get()[self._database][self._collection_name]

    def get(self, document_id: str) -> Document:
        data = self._collection.find_one({"_id": document_id})
        if data is None:
            raise DocumentNotFound(document_id)
        return _from_mongo(data)

    def write(
        self,
        *,
        source: str,
        doc_id: str,
        content: str,
        content_type: ContentType,
        metadata: dict[str, Any],
    ) -> WriteOutcome:
        key = document_id(source, doc_id)
        for _ in range(MAX_PUT_ATTEMPTS):
            data = self._collection.find_one({"_id": key})
            current = _from_mongo(data) if data else None
            new = _written(current, source, doc_id, content, content_type, metadata)
            changed = current is None or current.content_hash != new.content_hash
            if new == current:
                return WriteOutcome(new, False)
            fields = _to_mongo(new)
            # Bookkeeping the worker owns is never overwritten by a content write.
            for owned in ("chunk_high_water", "chunk_count", "indexed_hash", "indexed_at"):
                fields.pop(owned)
            try:
                if current is None:
                    self._collection.insert_one(_to_mongo(new))
                    return WriteOutcome(new, changed)
                result = self._collection.update_one(
                    {"_id": key, "content_hash": current.content_hash,
                     "metadata": current.metadata},
                    {"$set": fields},
                )
            except DuplicateKeyError:
                continue  # a racing insert won; compare against it
            if result.modified_count == 1:
                return WriteOutcome(new, changed)
        raise ConcurrentDocumentWrite(f"document {key} changed {MAX_PUT_ATTEMPTS} times")

    def set_embed_job(self, document_id: str, job_id: str) -> None:
        self._collection.update_one({"_id": document_id}, {"$set": {"embed_job_id": job_id}})

    def remove(self, document_id: str) -> Document | None:
        data = self._collection.find_one_and_delete({"_id": document_id})
        return _from_mongo(data) if data else None

    def raise_high_water(self, document_id: str, chunks: int) -> None:
        self._collection.update_one(
            {"_id": document_id}, {"$max": {"chunk_high_water": chunks}}
        )

    def mark_indexed(self, document_id: str, indexed_hash: str, chunk_count: int) -> None:
        self._collection.update_one(
            {"_id": document_id},
            {"$set": {
                "indexed_hash": indexed_hash,
                "chunk_count": chunk_count,
                "indexed_at": utcnow().isoformat(),
                "chunk_high_water": chunk_count,
            }},
        )

    def count(self, source: str | None = None) -> int:
        return int(self._collection.count_documents({} if source is None else {"source": source}))

    def close(self) -> None:
        self._clients.close()


def open_documents(settings: Settings) -> DocumentStore:
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


def enqueue_embed(
    document: Document, *, documents: DocumentStore, store: JobStore, celery: Celery,
    settings: Settings,
) -> Job:
    """Queue an ``embed`` job for the document's current content (also used by `sluice cdc`)."""
    job, _ = submit(
        "embed",
        {"document_id": document.id, "source": document.source, "doc_id": document.doc_id,
         "content_hash": document.content_hash},
        store=store, celery=celery, settings=settings,
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
) -> tuple[Document, bool]:
    """Store a document; queue ``embed`` only when its content changed. Returns
    ``(document, changed)``; ``document.embed_job_id`` names the job when one was queued.

    Re-sending unchanged content (a re-crawl, a re-delivered email) writes nothing and
    queues nothing. With ``SLUICE_WAREHOUSE_CHANGE_STREAM`` the change stream queues instead.
    """
    kind = ContentType(content_type)
    key = doc_id or default_doc_id(content, kind)
    outcome = documents.write(
        source=source, doc_id=key, content=content, content_type=kind,
        metadata=json.loads(json.dumps(metadata or {})),
    )
    document = outcome.document
    if outcome.changed and not settings.warehouse_change_stream:
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
    without a row cannot be named by id.
    """
    removed = documents.remove(document_id)
    if removed is None:
        return None, None
    job, _ = submit(
        "delete",
        {"document_id": removed.id, "source": removed.source, "doc_id": removed.doc_id},
        store=store, celery=celery, settings=settings,
    )
    return removed, job


__all__ = [
    "ContentType",
    "Document",
    "DocumentNotFound",
    "DocumentStore",
    "MongoDocumentStore",
    "SQLiteDocumentStore",
    "content_hash",
    "default_doc_id",
    "delete_document",
    "document_id",
    "enqueue_embed",
    "get_documents",
    "open_documents",
    "put_document",
]
