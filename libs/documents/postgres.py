"""The warehouse on PostgreSQL (``SLUICE_DATABASE_URL``): a ``documents`` table beside the jobs.

A write reads, changes and saves one document inside a transaction that first takes an
advisory lock on the document's id, so racing writers of one document queue up (as SQLite's
``BEGIN IMMEDIATE`` makes them) while writers of other documents run on. The document is
kept as JSON text: its content may hold characters (NUL) that JSONB cannot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from libs.documents.model import (
    LIST_PAGE,
    Document,
    DocumentChange,
    DocumentNotFound,
    DocumentRef,
    DocumentStore,
)
from schemas.job import utcnow
from sluice.stores.cas import Swap
from sluice.stores.postgres_db import PostgresConnections

# The "documents" owner's steps; append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE documents (
        id TEXT COLLATE "C" PRIMARY KEY,
        source TEXT NOT NULL,
        doc_id TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        chunk_high_water INTEGER NOT NULL DEFAULT 0,
        doc TEXT NOT NULL,
        UNIQUE (source, doc_id)
    );
    -- a source's documents in id order (a re-embed walk), and by age (retention)
    CREATE INDEX documents_source_id ON documents (source, id);
    CREATE INDEX documents_source_updated ON documents (source, updated_at);
    """,
)

class PostgresDocumentStore(DocumentStore):
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._db = PostgresConnections(url, pool_size)
        self._db.migrate("documents", MIGRATIONS)

    @staticmethod
    def _load(connection: Connection[Any], document_id: str) -> Document | None:
        row = connection.execute(
            "SELECT doc, chunk_high_water FROM documents WHERE id = %s", (document_id,)
        ).fetchone()
        if row is None:
            return None
        document = Document.model_validate_json(row[0])
        document.chunk_high_water = int(row[1])
        return document

    @staticmethod
    def _save(connection: Connection[Any], document: Document) -> None:
        connection.execute(
            "INSERT INTO documents (id, source, doc_id, content_hash, updated_at,"
            " chunk_high_water, doc) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET content_hash = excluded.content_hash,"
            " updated_at = excluded.updated_at,"
            " chunk_high_water = GREATEST(documents.chunk_high_water,"
            " excluded.chunk_high_water), doc = excluded.doc",
            (document.id, document.source, document.doc_id, document.content_hash,
             document.updated_at, document.chunk_high_water, document.model_dump_json()),
        )

    def get(self, document_id: str) -> Document:
        with self._db.connection() as connection:
            document = self._load(connection, document_id)
        if document is None:
            raise DocumentNotFound(document_id)
        return document

    def _swap(self, document_id: str, change: DocumentChange) -> Swap[Document | None, Document]:
        """Read-modify-write, one writer of this document at a time."""
        with self._db.transaction() as connection:
            connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (document_id,)
            )
            current = self._load(connection, document_id)
            updated = change(current)
            if updated is not None:
                self._save(connection, updated)
        return Swap(current, updated)

    def set_embed_job(self, document_id: str, job_id: str) -> None:
        self._swap(document_id, lambda current: None if current is None else
                     current.model_copy(update={"embed_job_id": job_id}))

    def remove(self, document_id: str) -> Document | None:
        with self._db.transaction() as connection:
            current = self._load(connection, document_id)
            connection.execute("DELETE FROM documents WHERE id = %s", (document_id,))
        return current

    def list_documents(
        self, *, source: str | None = None, after: str | None = None, limit: int = LIST_PAGE
    ) -> list[DocumentRef]:
        clauses, params = ["id > %s"], [after or ""]
        if source is not None:
            clauses.append("source = %s")
            params.append(source)
        rows = self._db.fetchall(
            f"SELECT id, source, doc_id, content_hash FROM documents"
            f" WHERE {' AND '.join(clauses)} ORDER BY id LIMIT %s", [*params, limit],
        )
        return [DocumentRef(*row) for row in rows]

    def raise_high_water(self, document_id: str, chunks: int) -> None:
        self._db.execute(
            "UPDATE documents SET chunk_high_water = GREATEST(chunk_high_water, %s)"
            " WHERE id = %s", (chunks, document_id),
        )

    def mark_indexed(self, document_id: str, indexed_hash: str, chunk_count: int) -> None:
        def change(current: Document | None) -> Document | None:
            if current is None:
                return None
            return current.model_copy(update={
                "indexed_hash": indexed_hash, "chunk_count": chunk_count,
                "indexed_at": utcnow(),
            })

        self._swap(document_id, change)
        # Only now may the high-water mark come down: the tail beyond it is gone.
        self._db.execute(
            "UPDATE documents SET chunk_high_water = %s WHERE id = %s", (chunk_count, document_id)
        )

    def count(self, source: str | None = None) -> int:
        if source is None:
            row = self._db.fetchone("SELECT COUNT(*) FROM documents")
        else:
            row = self._db.fetchone("SELECT COUNT(*) FROM documents WHERE source = %s", (source,))
        return int(row[0])

    def ids_containing(self, needle: str, limit: int) -> list[str]:
        # An erasure, not a hot path: one scan inside the database.
        rows = self._db.fetchall(
            "SELECT id FROM documents WHERE strpos(lower(doc), lower(%s)) > 0 LIMIT %s",
            (needle, limit),
        )
        return [row[0] for row in rows]

    def stale(self, source: str, updated_before: datetime, limit: int) -> list[str]:
        rows = self._db.fetchall(  # the (source, updated_at) index answers this
            "SELECT id FROM documents WHERE source = %s AND updated_at < %s"
            " ORDER BY updated_at LIMIT %s", (source, updated_before, limit),
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        self._db.close()
