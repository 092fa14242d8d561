"""The warehouse in embedded mode: a ``documents`` table in the job store's SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

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
from sluice.stores.sqlite_db import SQLiteConnections

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

    def _swap(self, document_id: str, change: DocumentChange) -> Swap[Document | None, Document]:
        """Read-modify-write under SQLite's write lock (``BEGIN IMMEDIATE``)."""
        with self._db.transaction() as connection:
            current = self._load(connection, document_id)
            updated = change(current)
            if updated is not None:
                self._save(connection, updated)
        return Swap(current, updated)

    def set_embed_job(self, document_id: str, job_id: str) -> None:
        def change(current: Document | None) -> Document | None:
            if current is None:
                return None
            return current.model_copy(update={"embed_job_id": job_id})

        self._swap(document_id, change)

    def remove(self, document_id: str) -> Document | None:
        with self._db.transaction() as connection:
            current = self._load(connection, document_id)
            connection.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        return current

    def list_documents(
        self, *, source: str | None = None, after: str | None = None, limit: int = LIST_PAGE
    ) -> list[DocumentRef]:
        clauses, params = ["id > ?"], [after or ""]
        if source is not None:
            clauses.append("source = ?")
            params.append(source)
        rows = self._db.get().execute(
            f"SELECT id, source, doc_id, content_hash FROM documents"
            f" WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?", [*params, limit],
        )
        return [DocumentRef(*row) for row in rows]

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

        self._swap(document_id, change)
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

    def ids_containing(self, needle: str, limit: int) -> list[str]:
        rows = self._db.get().execute(
            "SELECT id FROM documents WHERE instr(lower(doc), lower(?)) > 0 LIMIT ?",
            (needle, limit),
        )
        return [row[0] for row in rows]

    def stale(self, source: str, updated_before: datetime, limit: int) -> list[str]:
        rows = self._db.get().execute(  # the (source, updated_at) index answers this
            "SELECT id FROM documents WHERE source = ? AND updated_at < ?"
            " ORDER BY updated_at LIMIT ?", (source, updated_before.isoformat(), limit),
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        self._db.close()
