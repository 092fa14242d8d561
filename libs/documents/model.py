"""The document warehouse's model: a stored document, its identity and the backend contract.

One row per ``(source, doc_id)``, addressed by a stable id (:func:`document_id`); what
counts as a change is the content hash (:func:`content_hash`). :class:`DocumentStore` is
what a backend gives (:mod:`libs.documents.sqlite`, :mod:`libs.documents.mongo`); the
rules on top, what gets queued, are in :mod:`libs.documents.warehouse`.
"""

from __future__ import annotations

import hashlib
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from libs.text.email_parsing import read_email
from schemas.job import utcnow
from schemas.principal import DEFAULT_TENANT
from sluice.stores.cas import ConcurrentUpdate, Swap

# Fixed namespace: document and point ids must be the same on every machine, forever.
SLUICE_NAMESPACE = uuid.UUID("6f2d8a4e-3c1b-5e7f-9a0d-2b4c6e8f1a3d")
# Documents per page of a listing: one query each, small enough to hold in memory.
LIST_PAGE = 500


class ContentType(StrEnum):
    TEXT = "text/plain"
    HTML = "text/html"
    EMAIL = "message/rfc822"
    # Files: ``content`` holds the raw bytes in base64 (kept for a person when they cannot
    # be read); the embed job turns them into text, page by page (libs/files).
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

    @property
    def is_file(self) -> bool:
        return self in (ContentType.PDF, ContentType.DOCX)


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
    # Whose document it is: only that tenant's principals (and operators) see it, and its
    # chunks carry it in Qdrant. Documents stored before tenants are the default's.
    tenant: str = DEFAULT_TENANT

    @property
    def indexed(self) -> bool:
        return self.indexed_hash == self.content_hash


class DocumentNotFound(KeyError):
    def __init__(self, document_id: str) -> None:
        super().__init__(document_id)
        self.document_id = document_id

    def __str__(self) -> str:
        return f"no document {self.document_id}"


class DocumentOfAnotherTenant(DocumentNotFound):
    """The (source, doc_id) is another tenant's document: nothing was written, and the
    caller is told no more than that it is not theirs to see."""


class ConcurrentDocumentWrite(ConcurrentUpdate):
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
        # read_email: linear on hostile headers, where message_from_string is quadratic.
        message_id = read_email(content).header("message-id")
        if message_id:
            return message_id
    return "sha256:" + content_hash(content, content_type)[:32]


# A read-modify-write of one document: what to save given what is stored (None: nothing).
DocumentChange = Callable[[Document | None], Document | None]


@dataclass(frozen=True)
class WriteOutcome:
    document: Document
    changed: bool


@dataclass(frozen=True)
class DocumentRef:
    """A document's identity and content hash, without its content: what a listing gives."""

    id: str
    source: str
    doc_id: str
    content_hash: str


class DocumentStore(ABC):
    """Backend primitives; the rules (what counts as a change, what gets queued) are in
    :func:`put_document` and :func:`delete_document`. A backend's :meth:`_swap` is what
    makes :meth:`write` safe against racing writers."""

    @abstractmethod
    def get(self, document_id: str) -> Document:
        """The document, or :class:`DocumentNotFound`."""

    def write(
        self,
        *,
        source: str,
        doc_id: str,
        content: str,
        content_type: ContentType,
        metadata: dict[str, Any],
        tenant: str = DEFAULT_TENANT,
    ) -> WriteOutcome:
        """Insert or update; ``changed`` is True when the content hash is new.
        :class:`DocumentOfAnotherTenant` when the row is another tenant's."""

        def change(current: Document | None) -> Document | None:
            new = written_over(current, source, doc_id, content, content_type, metadata, tenant)
            return None if new == current else new

        swap = self._swap(document_id(source, doc_id), change)
        if swap.written is None:
            assert swap.current is not None  # a new document always differs from none
            return WriteOutcome(swap.current, False)
        changed = swap.current is None or swap.current.content_hash != swap.written.content_hash
        return WriteOutcome(swap.written, changed)

    @abstractmethod
    def _swap(self, document_id: str, change: DocumentChange) -> Swap[Document | None, Document]:
        """Apply ``change`` to the stored document (None: there is none) and save what it
        returns (None: save nothing), with no other write of this document in between."""

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
    def list_documents(
        self, *, source: str | None = None, after: str | None = None, limit: int = LIST_PAGE
    ) -> list[DocumentRef]:
        """Up to ``limit`` documents with an id above ``after``, in id order."""

    def iter_documents(
        self, *, source: str | None = None, after: str | None = None
    ) -> Iterator[DocumentRef]:
        """Every document (of ``source``) past ``after``, in id order, a page at a time.

        The order is stable, so a walk that stopped can resume after the last id it saw;
        documents written during the walk are seen when their id is still ahead.
        """
        last = after
        while True:
            page = self.list_documents(source=source, after=last)
            yield from page
            if len(page) < LIST_PAGE:
                return
            last = page[-1].id

    def ids_containing(self, needle: str, limit: int) -> list[str]:
        """Ids of up to ``limit`` documents whose text or metadata contain ``needle`` (any
        case). For an erasure, not a hot path: this default reads every document."""
        needle = needle.lower()
        found = []
        for ref in self.iter_documents():
            if needle in self.get(ref.id).model_dump_json().lower():
                found.append(ref.id)
                if len(found) == limit:
                    break
        return found

    def stale(self, source: str, updated_before: datetime, limit: int) -> list[str]:
        """Ids of up to ``limit`` documents of ``source`` last written before the cutoff."""
        found = []
        for ref in self.iter_documents(source=source):
            if self.get(ref.id).updated_at < updated_before:
                found.append(ref.id)
                if len(found) == limit:
                    break
        return found

    @abstractmethod
    def close(self) -> None: ...

    def get_by_key(self, source: str, doc_id: str) -> Document:
        return self.get(document_id(source, doc_id))



def written_over(
    current: Document | None,
    source: str,
    doc_id: str,
    content: str,
    content_type: ContentType,
    metadata: dict[str, Any],
    tenant: str = DEFAULT_TENANT,
) -> Document:
    """The document after a write of this content over ``current`` (None: a new one)."""
    digest = content_hash(content, content_type)
    if current is None:
        return Document(
            id=document_id(source, doc_id), source=source, doc_id=doc_id,
            content_type=content_type, content=content, content_hash=digest, metadata=metadata,
            tenant=tenant,
        )
    if current.tenant != tenant:
        raise DocumentOfAnotherTenant(current.id)
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
