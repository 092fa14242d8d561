"""The contract every document store keeps (the warehouse's backends): what counts as a
change, the indexing bookkeeping, racing writers, listing in id order."""

from __future__ import annotations

import threading

import pytest

from libs.documents.model import LIST_PAGE
from libs.documents.warehouse import (
    ContentType,
    DocumentNotFound,
    DocumentOfAnotherTenant,
    DocumentStore,
    document_id,
)


def test_only_new_content_counts_as_a_change(documents: DocumentStore) -> None:
    first = documents.write(source="s", doc_id="d1", content="one", content_type=ContentType.TEXT,
                            metadata={})
    same = documents.write(source="s", doc_id="d1", content="one", content_type=ContentType.TEXT,
                           metadata={})
    tagged = documents.write(source="s", doc_id="d1", content="one",
                             content_type=ContentType.TEXT, metadata={"lang": "en"})
    edited = documents.write(source="s", doc_id="d1", content="two",
                             content_type=ContentType.TEXT, metadata={"lang": "en"})

    assert first.changed and not same.changed and not tagged.changed and edited.changed
    assert same.document.updated_at == first.document.updated_at
    assert tagged.document.metadata == {"lang": "en"}
    assert edited.document.content_hash != first.document.content_hash
    assert first.document.id == document_id("s", "d1") == documents.get(first.document.id).id
    assert documents.get(first.document.id).content == "two"


def test_a_document_is_its_first_writers_tenants(documents: DocumentStore) -> None:
    written = documents.write(source="s", doc_id="d1", content="one",
                              content_type=ContentType.TEXT, metadata={}, tenant="acme")
    assert documents.get(written.document.id).tenant == "acme"
    with pytest.raises(DocumentOfAnotherTenant):
        documents.write(source="s", doc_id="d1", content="two", content_type=ContentType.TEXT,
                        metadata={}, tenant="globex")
    assert documents.get(written.document.id).content == "one"
    assert documents.write(source="s", doc_id="d1", content="two",
                           content_type=ContentType.TEXT, metadata={}, tenant="acme").changed


def test_the_high_water_mark_only_comes_down_once_indexed(documents: DocumentStore) -> None:
    written = documents.write(source="s", doc_id="d1", content="text",
                              content_type=ContentType.TEXT, metadata={}).document
    documents.raise_high_water(written.id, 7)
    documents.raise_high_water(written.id, 3)
    assert documents.get(written.id).chunk_high_water == 7
    assert not documents.get(written.id).indexed

    documents.mark_indexed(written.id, written.content_hash, 2)
    indexed = documents.get(written.id)
    assert (indexed.chunk_high_water, indexed.chunk_count, indexed.indexed) == (2, 2, True)

    documents.raise_high_water(written.id, 5)
    edited = documents.write(source="s", doc_id="d1", content="new text",
                             content_type=ContentType.TEXT, metadata={}).document
    after = documents.get(edited.id)
    assert after.chunk_high_water == 5  # a content write never hides written chunks
    assert after.chunk_count == 2 and not after.indexed


def test_remove_returns_the_document_once(documents: DocumentStore) -> None:
    written = documents.write(source="s", doc_id="d1", content="text",
                              content_type=ContentType.TEXT, metadata={}).document
    assert documents.remove(written.id) is not None
    assert documents.remove(written.id) is None
    with pytest.raises(DocumentNotFound):
        documents.get(written.id)


def test_racing_writers_agree_on_one_final_content(documents: DocumentStore) -> None:
    results: list[bool] = []

    def writer(n: int) -> None:
        for round_ in range(10):
            outcome = documents.write(source="s", doc_id="race", content=f"{n}-{round_}",
                                      content_type=ContentType.TEXT, metadata={})
            results.append(outcome.changed)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = documents.get(document_id("s", "race"))
    assert final.content in {f"{n}-9" for n in range(4)}
    assert all(results) and len(results) == 40  # every write was new content
    assert documents.count("s") == 1


def write(documents: DocumentStore, source: str, doc_id: str, content: str = "text") -> str:
    return documents.write(source=source, doc_id=doc_id, content=content,
                           content_type=ContentType.TEXT, metadata={}).document.id


def test_listing_gives_every_document_once_in_id_order(documents: DocumentStore) -> None:
    ids = [write(documents, "a" if n % 2 else "b", f"d{n}") for n in range(7)]
    listed = [ref.id for ref in documents.iter_documents()]
    assert listed == sorted(ids)
    only_a = documents.list_documents(source="a")
    assert [ref.doc_id for ref in only_a] == sorted(
        (f"d{n}" for n in range(7) if n % 2), key=lambda key: document_id("a", key)
    )
    first = documents.get(only_a[0].id)
    assert (only_a[0].source, only_a[0].content_hash) == ("a", first.content_hash)


def test_a_listing_resumes_after_the_last_id_it_saw(documents: DocumentStore) -> None:
    ids = sorted(write(documents, "s", f"d{n}") for n in range(5))
    assert [ref.id for ref in documents.iter_documents(after=ids[1])] == ids[2:]
    assert [ref.id for ref in documents.list_documents(after=ids[0], limit=2)] == ids[1:3]
    assert list(documents.iter_documents(after=ids[-1])) == []


def test_a_listing_longer_than_a_page_is_read_page_by_page(documents: DocumentStore) -> None:
    for n in range(LIST_PAGE + 3):
        write(documents, "bulk", f"d{n}")
    listed = [ref.id for ref in documents.iter_documents(source="bulk")]
    assert len(listed) == len(set(listed)) == LIST_PAGE + 3
    assert listed == sorted(listed)
