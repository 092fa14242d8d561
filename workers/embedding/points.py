"""What one chunk is in Qdrant (a point: id, vectors, payload) and what a search returns of it.

Point id = uuid5(source, doc_id, chunk_index), so re-embedding a document overwrites its own
points and never adds new ones. Payload: doc_id, source, chunk_index, text, content_hash
(sha256 of the chunk text), model, the warehouse's document_id, tenant, and the metadata a
self-query filters on: doc_type and date (ISO 8601).

Vectors: the dense one is the collection's unnamed vector, as it always was; a collection
made since hybrid retrieval also has the sparse BM25 vector :data:`SPARSE_VECTOR`. A point
bound for a collection without it is written dense only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client.http import models as qm

from libs.documents.warehouse import SLUICE_NAMESPACE
from schemas.principal import DEFAULT_TENANT
from workers.embedding.sparse import SparseVector

# The sparse vector's name in a hybrid collection; the dense vector keeps the unnamed slot.
SPARSE_VECTOR = "bm25"
DENSE_VECTOR = ""


def point_id(source: str, doc_id: str, chunk_index: int) -> str:
    return str(uuid.uuid5(SLUICE_NAMESPACE, f"{source}\n{doc_id}\n{chunk_index}"))


@dataclass(frozen=True)
class ChunkPoint:
    document_id: str
    source: str
    doc_id: str
    chunk_index: int
    text: str
    content_hash: str
    model: str
    vector: np.ndarray
    # The document's tenant: a search only ever sees its own tenant's chunks.
    tenant: str = DEFAULT_TENANT
    sparse: SparseVector | None = None
    doc_type: str | None = None
    date: str | None = None  # ISO 8601: what a self-query's date range compares
    # Where the chunk stands in a file: its page (PDF) and the file's name, for citations.
    page: int | None = None
    file: str | None = None

    @property
    def id(self) -> str:
        return point_id(self.source, self.doc_id, self.chunk_index)

    def struct(self, *, with_sparse: bool) -> qm.PointStruct:
        vector: Any = self.vector.tolist()
        if with_sparse and self.sparse is not None:
            vector = {DENSE_VECTOR: vector, SPARSE_VECTOR: qm.SparseVector(
                indices=self.sparse.indices, values=self.sparse.values)}
        payload = {
            "doc_id": self.doc_id, "source": self.source, "chunk_index": self.chunk_index,
            "text": self.text, "content_hash": self.content_hash, "model": self.model,
            "document_id": self.document_id, "tenant": self.tenant,
            "page": self.page, "file": self.file,
        }
        if self.doc_type is not None:
            payload["doc_type"] = self.doc_type
        if self.date is not None:
            payload["date"] = self.date
        return qm.PointStruct(id=self.id, vector=vector, payload=payload)


@dataclass(frozen=True)
class Hit:
    score: float
    doc_id: str
    source: str
    chunk_index: int
    text: str
    # The warehouse id, for GET /v1/documents/{id}.
    document_id: str | None = None
    doc_type: str | None = None
    date: str | None = None
    page: int | None = None
    file: str | None = None

    @property
    def id(self) -> str:
        return point_id(self.source, self.doc_id, self.chunk_index)

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "doc_id": self.doc_id, "source": self.source,
                "chunk_index": self.chunk_index, "text": self.text,
                "document_id": self.document_id, "doc_type": self.doc_type, "date": self.date,
                "page": self.page, "file": self.file}

    @classmethod
    def of(cls, point: qm.ScoredPoint) -> Hit:
        payload = point.payload or {}
        return cls(
            score=float(point.score), doc_id=str(payload.get("doc_id")),
            source=str(payload.get("source")), chunk_index=int(payload.get("chunk_index", 0)),
            text=str(payload.get("text", "")), document_id=payload.get("document_id"),
            doc_type=payload.get("doc_type"), date=payload.get("date"),
            page=payload.get("page"), file=payload.get("file"),
        )
