"""Reading the warehouse in a stable order, for transforms that walk every document.

The warehouse module has no listing API; this reads its ``documents`` table (SQLite) or
collection (MongoDB) read-only, ordered by document id, so a resumed run continues after
the last id it submitted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sluice.settings import Settings

PAGE = 500


@dataclass(frozen=True)
class DocumentRef:
    id: str
    source: str
    doc_id: str
    content_hash: str


def iter_documents(
    settings: Settings, *, source: str | None = None, after: str | None = None
) -> Iterator[DocumentRef]:
    if settings.mongodb_url is not None:
        yield from _mongo_documents(settings, source, after)
    else:
        yield from _sqlite_documents(settings, source, after)


def count_documents(settings: Settings, *, source: str | None = None) -> int:
    from libs.documents.warehouse import open_documents

    documents = open_documents(settings)
    try:
        return documents.count(source)
    finally:
        documents.close()


def _sqlite_documents(
    settings: Settings, source: str | None, after: str | None
) -> Iterator[DocumentRef]:
    import sqlite3

    connection = sqlite3.connect(settings.sqlite_path, timeout=30)
    try:
        last = after or ""
        while True:
            clauses, params = ["id > ?"], [last]
            if source is not None:
                clauses.append("source = ?")
                params.append(source)
            try:
                rows = connection.execute(
                    f"SELECT id, source, doc_id, content_hash FROM documents"
                    f" WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?", [*params, PAGE],
                ).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return
                raise
            for row in rows:
                yield DocumentRef(*row)
            if len(rows) < PAGE:
                return
            last = rows[-1][0]
    finally:
        connection.close()


def _mongo_documents(
    settings: Settings, source: str | None, after: str | None
) -> Iterator[DocumentRef]:
    from pymongo import MongoClient

    assert settings.mongodb_url is not None
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_url.get_secret_value())
    try:
        conditions: dict[str, Any] = {}
        if after:
            conditions["_id"] = {"$gt": after}
        if source is not None:
            conditions["source"] = source
        found = client[settings.mongodb_database]["documents"].find(
            conditions, {"source": 1, "doc_id": 1, "content_hash": 1}
        ).sort("_id", 1)
        for data in found:
            yield DocumentRef(data["_id"], data["source"], data["doc_id"], data["content_hash"])
    finally:
        client.close()
