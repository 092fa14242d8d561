"""The warehouse on MongoDB: the ``documents`` collection that `sluice cdc` watches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError
from pymongo.operations import IndexModel

from libs.documents.model import (
    LIST_PAGE,
    ConcurrentDocumentWrite,
    Document,
    DocumentChange,
    DocumentNotFound,
    DocumentRef,
    DocumentStore,
)
from schemas.job import utcnow
from sluice.stores.bson_limits import refusals_as_unstorable
from sluice.stores.cas import Swap, compare_and_set
from sluice.stores.mongo import write_won
from sluice.stores.mongo_client import MongoClients, ensure_indexes

MAX_PUT_ATTEMPTS = 20


def _to_mongo(document: Document) -> dict[str, Any]:
    data = document.model_dump(mode="json")
    data["_id"] = data.pop("id")
    return data


def mongo_document_indexes() -> list[IndexModel]:
    """Every index of the ``documents`` collection (created once per process): one document
    per (source, doc_id), and a source's listing in ``_id`` order."""
    return [
        IndexModel([("source", ASCENDING), ("doc_id", ASCENDING)], unique=True),
        IndexModel([("source", ASCENDING), ("_id", ASCENDING)]),
    ]


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

    @property
    def _collection(self) -> Any:
        documents = self._clients.collection(self._database, self._collection_name)
        ensure_indexes(documents, self._clients.url, mongo_document_indexes())
        return documents

    def get(self, document_id: str) -> Document:
        data = self._collection.find_one({"_id": document_id})
        if data is None:
            raise DocumentNotFound(document_id)
        return _from_mongo(data)

    def _swap(self, document_id: str, change: DocumentChange) -> Swap[Document | None, Document]:
        """Compare-and-set on the content: a racing content write makes ``change`` run again
        on what it wrote; the worker's bookkeeping fields are never overwritten."""

        def read() -> Document | None:
            data = self._collection.find_one({"_id": document_id})
            return _from_mongo(data) if data else None

        def write(current: Document | None, new: Document) -> bool:
            fields = _to_mongo(new)
            try:
                with refusals_as_unstorable(fields, f"document {document_id}"):
                    if current is None:
                        self._collection.insert_one(fields)
                        return True
                    # Bookkeeping the worker owns is never overwritten by a content write.
                    for owned in ("chunk_high_water", "chunk_count", "indexed_hash",
                                  "indexed_at"):
                        fields.pop(owned)
                    result = self._collection.update_one(
                        {"_id": document_id, "content_hash": current.content_hash,
                         "metadata": current.metadata},
                        {"$set": fields},
                    )
            except DuplicateKeyError:
                return False  # a racing insert won; compare against it
            return write_won(result)

        return compare_and_set(
            read, change, write, what=f"document {document_id}", attempts=MAX_PUT_ATTEMPTS,
            conflict=ConcurrentDocumentWrite,
        )

    def list_documents(
        self, *, source: str | None = None, after: str | None = None, limit: int = LIST_PAGE
    ) -> list[DocumentRef]:
        conditions: dict[str, Any] = {}
        if after:
            conditions["_id"] = {"$gt": after}
        if source is not None:
            conditions["source"] = source
        found = self._collection.find(
            conditions, {"source": 1, "doc_id": 1, "content_hash": 1}
        ).sort("_id", ASCENDING).limit(limit)
        return [
            DocumentRef(data["_id"], data["source"], data["doc_id"], data["content_hash"])
            for data in found
        ]

    def set_embed_job(self, document_id: str, job_id: str) -> None:
        self._collection.update_one({"_id": document_id}, {"$set": {"embed_job_id": job_id}})

    def stale(self, source: str, updated_before: datetime, limit: int) -> list[str]:
        found = self._collection.find(
            {"source": source, "updated_at": {"$lt": updated_before.isoformat()}}, {"_id": 1}
        ).sort("updated_at", ASCENDING).limit(limit)
        return [data["_id"] for data in found]

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
