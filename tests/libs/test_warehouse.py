"""The document warehouse's service: what gets queued for a write and a delete, and the ids
of documents that come without one. The backends' contract is in
``tests/sluice/stores/test_document_store_contract.py``."""

from __future__ import annotations

from libs.documents.warehouse import (
    ContentType,
    SQLiteDocumentStore,
    default_doc_id,
    delete_document,
    put_document,
)
from tests.conftest import SluiceEnv


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


def test_without_the_embed_kind_a_document_is_kept_and_nothing_is_queued(
    sluice_env: SluiceEnv,
) -> None:
    from sluice.kinds import load_kinds, loaded_kinds
    from sluice.stores import JobQuery

    everything = loaded_kinds().modules
    load_kinds(["workers.echo"])  # a core install: the embedding kinds did not load
    try:
        documents = SQLiteDocumentStore(sluice_env.settings.sqlite_path)
        document, changed = put_document(
            documents, source="crawl", doc_id="page", content="hello", store=sluice_env.store,
            celery=sluice_env.celery, settings=sluice_env.settings,
        )
    finally:
        load_kinds(everything)
    assert changed and document.embed_job_id is None
    assert documents.get(document.id).content == "hello"
    assert sluice_env.store.count(JobQuery()) == 0


def test_in_change_stream_mode_a_delete_is_queued_by_the_stream_not_twice(
    sluice_env: SluiceEnv,
) -> None:
    from sluice.stores import JobQuery

    settings = sluice_env.settings.model_copy(update={"warehouse_change_stream": True})
    documents = SQLiteDocumentStore(settings.sqlite_path)
    common = {"store": sluice_env.store, "celery": sluice_env.celery, "settings": settings}
    document, _ = put_document(documents, source="api", doc_id="a", content="hello", **common)
    removed, job = delete_document(documents, document_id=document.id, **common)
    assert removed is not None and removed.id == document.id and job is None
    # `sluice cdc` queues the embed and the delete from the stream's events.
    assert sluice_env.store.count(JobQuery()) == 0
    documents.close()
