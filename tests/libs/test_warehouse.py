"""The document warehouse: what counts as a change, what gets queued, the indexing
bookkeeping. Runs against SQLite always, MongoDB when SLUICE_MONGODB_URL is set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from libs.documents.warehouse import (
    ContentType,
    DocumentNotFound,
    DocumentStore,
    SQLiteDocumentStore,
    default_doc_id,
    delete_document,
    document_id,
    put_document,
)
from tests.conftest import SluiceEnv
from tests.support.mongo import throwaway_database


@pytest.fixture(params=["sqlite", "mongodb"])
def documents(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    if request.param == "sqlite":
        sqlite = SQLiteDocumentStore(tmp_path / "sluice.db")
        yield sqlite
        sqlite.close()
        return
    with throwaway_database() as (url, database):
        from libs.documents.warehouse import MongoDocumentStore

        mongo = MongoDocumentStore(url, database)
        yield mongo
        mongo.close()


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


def test_emails_are_keyed_by_message_id_and_other_content_by_its_hash() -> None:
    email = "Message-ID: <abc@example.com>\nSubject: hi\n\nbody\n"
    assert default_doc_id(email, ContentType.EMAIL) == "<abc@example.com>"
    assert default_doc_id("text", "text/plain") == default_doc_id("text", ContentType.TEXT)
    assert default_doc_id("text", "text/plain").startswith("sha256:")


def test_put_queues_embed_only_for_a_change_and_delete_queues_delete(
    sluice_env: SluiceEnv,
) -> None:
    documents = SQLiteDocumentStore(sluice_env.settings.sqlite_path)
    common = {"store": sluice_env.store, "celery": sluice_env.celery,
              "settings": sluice_env.settings}

    document, changed = put_document(documents, source="api", doc_id="a", content="hello",
                                     **common)
    again, unchanged = put_document(documents, source="api", doc_id="a", content="hello",
                                    **common)
    removed, job = delete_document(documents, document_id=document.id, **common)
    gone, no_job = delete_document(documents, document_id=document.id, **common)

    assert changed and not unchanged
    assert document.embed_job_id and again.embed_job_id == document.embed_job_id
    embed = sluice_env.store.get(document.embed_job_id)
    assert embed.kind == "embed" and embed.input == {
        "document_id": document.id, "source": "api", "doc_id": "a",
        "content_hash": document.content_hash,
    }
    assert embed.sent_at is not None  # on the broker
    assert removed is not None and job is not None and job.kind == "delete"
    assert job.input == {"document_id": document.id, "source": "api", "doc_id": "a"}
    assert gone is None and no_job is None
    documents.close()
