"""Reading the warehouse in a stable order, for transforms that walk every document.

Through the warehouse's listing API (:meth:`DocumentStore.iter_documents`): ordered by
document id, so a resumed run continues after the last id it submitted.
"""

from __future__ import annotations

from collections.abc import Iterator

from libs.documents.warehouse import DocumentRef, open_documents
from sluice.settings import Settings


def iter_documents(
    settings: Settings, *, source: str | None = None, after: str | None = None
) -> Iterator[DocumentRef]:
    documents = open_documents(settings)
    try:
        yield from documents.iter_documents(source=source, after=after)
    finally:
        documents.close()


def count_documents(settings: Settings, *, source: str | None = None) -> int:
    documents = open_documents(settings)
    try:
        return documents.count(source)
    finally:
        documents.close()


__all__ = ["DocumentRef", "count_documents", "iter_documents"]
