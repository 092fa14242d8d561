"""Messages from files: one document and one extract job per message, however often."""

from __future__ import annotations

import base64
import mailbox
import shutil
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from producers.email.intake import IntakeStatus
from producers.email.mailboxes import EmailProducer
from schemas.job import DeadReason, JobStatus
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv
from tests.producers.email.conftest import FIXTURES

GOOD = ["html_only.eml", "no_message_id.eml", "non_utf8.eml", "plain_reply.eml",
        "unknown_charset.eml", "with_attachment.eml"]


def extract_jobs(env: SluiceEnv) -> list:
    return list(env.store.iter_jobs(JobQuery(kind="extract")))


def test_each_message_becomes_one_document_and_one_extract_job_even_when_ingested_twice(
    producer_env: SluiceEnv, email_producer: EmailProducer
) -> None:
    first = email_producer.ingest_path(FIXTURES, schema="support_ticket")
    again = email_producer.ingest_path(FIXTURES, schema="support_ticket")
    assert sorted(o.status for _, o in first if o.status is IntakeStatus.QUEUED) == [
        IntakeStatus.QUEUED
    ] * len(GOOD)
    assert {o.status for _, o in again} == {IntakeStatus.DUPLICATE}
    jobs = extract_jobs(producer_env)
    assert len([j for j in jobs if j.status is JobStatus.QUEUED]) == len(GOOD)
    # One document per message, and one more for the readable attachment (invoice.pdf;
    # the PNG is listed only).
    assert email_producer.documents.count("email") == len(GOOD) + 1
    reply = next(j for j in jobs if j.input.get("doc_id") == "mid:reply-5521@example.com")
    assert reply.input["schema"] == "support_ticket"
    assert "Tracking" not in reply.input["text"]
    document = email_producer.documents.get(reply.input["document_id"])
    assert "Tracking: ZX81" in document.content  # the original is kept
    attached = next(j for j in jobs if j.input.get("doc_id") == "mid:attach-1@example.com")
    assert [a["filename"] for a in attached.input["email"]["attachments"]] == [
        "damage.png", "invoice.pdf"
    ]
    assert [a["filename"] for a in attached.input["attachments"]] == ["invoice.pdf"]
    parent = email_producer.documents.get(attached.input["document_id"])
    child = email_producer.documents.get(parent.metadata["attachment_documents"][0]["document_id"])
    assert child.metadata["parent_document_id"] == parent.id
    assert child.content_type.value == "application/pdf"


def test_an_unparsable_message_is_a_dead_job_with_its_raw_bytes(
    producer_env: SluiceEnv, email_producer: EmailProducer
) -> None:
    raw = (FIXTURES / "malformed.bin").read_bytes()
    outcome = email_producer.intake.ingest(raw, schema="support_ticket")
    assert outcome.status is IntakeStatus.DEAD
    job = producer_env.store.get(outcome.job_id)
    assert job.status is JobStatus.DEAD and job.reason is DeadReason.INVALID_INPUT
    assert base64.b64decode(job.input["raw_base64"]) == raw
    assert email_producer.intake.ingest(raw, schema="support_ticket").job_id == job.id
    assert producer_env.store.count(JobQuery(kind="extract")) == 1


def test_a_message_over_the_size_limit_is_dead_lettered_with_its_head_kept(
    producer_env: SluiceEnv, email_producer: EmailProducer
) -> None:
    message = EmailMessage()
    message["From"], message["Subject"], message["Message-ID"] = "a@x.example", "x", "<big@x>"
    message.set_content("see attachment")
    message.add_attachment(b"\1" * (3 * 1024 * 1024), maintype="application",
                           subtype="octet-stream", filename="big.bin")
    raw = message.as_bytes()
    email_producer.settings = email_producer.settings.model_copy(
        update={"email_max_message_bytes": 2 * 1024 * 1024}
    )
    outcome = email_producer.intake.ingest(raw, schema="support_ticket")
    job = producer_env.store.get(outcome.job_id)
    assert (job.status, job.reason) == (JobStatus.DEAD, DeadReason.INVALID_INPUT)
    assert "above the limit" in (job.error or "")
    assert job.input["raw_size"] == len(raw) and job.input["raw_truncated"] is True
    assert raw.startswith(base64.b64decode(job.input["raw_base64"]))


def test_maildirs_are_ingested_and_the_cli_reports_duplicates(
    producer_env: SluiceEnv, tmp_path: Path
) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for name in GOOD[:3]:
        box.add((FIXTURES / name).read_bytes())
    folder = tmp_path / "loose"
    folder.mkdir()
    shutil.copy(FIXTURES / GOOD[0], folder / "copy.eml")  # the same message again

    def sluice(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "cli", *args], env=producer_env.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "3 messages: 3 queued" in sluice("email", "ingest", str(tmp_path / "Maildir"))
    assert "1 messages: 1 duplicate" in sluice("email", "ingest", str(folder))
    assert producer_env.store.count(JobQuery(kind="extract")) == 3
