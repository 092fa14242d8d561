"""An email the warehouse refuses (MongoDB: more than 16 MiB of text) is dead-lettered with
the reason, so the mailbox's checkpoint moves past it instead of stalling on it."""

from __future__ import annotations

from typing import Any

from libs.documents.model import WriteOutcome
from libs.documents.sqlite import SQLiteDocumentStore
from producers.email.intake import EmailIntake, IntakeStatus
from schemas.job import DeadReason, JobStatus
from sluice.stores.bson_limits import refusals_as_unstorable
from tests.conftest import SluiceEnv


class BsonRulesDocumentStore(SQLiteDocumentStore):
    """The real SQLite warehouse that first encodes the document as the MongoDB store does,
    refusing what BSON refuses (real ``bson``, real 16 MiB limit)."""

    def write(self, **fields: Any) -> WriteOutcome:
        import bson
        from pymongo.errors import DocumentTooLarge

        from sluice.stores.bson_limits import MAX_DOCUMENT_BYTES

        document = {"_id": "x", **fields}
        with refusals_as_unstorable(document, f"document {fields['doc_id']}"):
            if len(bson.encode(document)) > MAX_DOCUMENT_BYTES:
                raise DocumentTooLarge("BSON document too large")
        return super().write(**fields)


def test_an_email_too_large_for_the_store_is_dead_lettered_not_raised(
    producer_env: SluiceEnv,
) -> None:
    documents = BsonRulesDocumentStore(producer_env.settings.sqlite_path)
    intake = EmailIntake(settings=producer_env.settings, store=producer_env.store,
                         celery=producer_env.celery, documents=documents)
    body = ("A very long line of text. " * 700_000).encode()  # ~18 MiB, under 25 MiB
    raw = (b"Message-ID: <huge@example.com>\r\nSubject: huge\r\nFrom: a@example.com\r\n"
           b"Content-Type: text/plain\r\n\r\n" + body)
    outcome = intake.ingest(raw, schema="support_ticket")
    assert outcome.status is IntakeStatus.DEAD
    job = producer_env.store.get(outcome.job_id)
    assert job.status is JobStatus.DEAD and job.reason is DeadReason.INVALID_INPUT
    assert "the store refused it" in (job.error or "") and "16 MiB" in (job.error or "")
    assert documents.count() == 0
    # The same message again finds the same dead job: a re-poll does not pile them up.
    assert intake.ingest(raw, schema="support_ticket").job_id == job.id
    documents.close()
