"""One email in, one document (and one per readable attachment) and at most one ``extract``
job out, however often it arrives.

The same message reaches Sluice many times: a poll after a crash, a mailbox whose
UIDVALIDITY changed, a maildir ingested twice. Its key (Message-ID, or a hash of its
identity headers) is the idempotency key of the extract job and the warehouse doc id, so
every repeat finds the existing job instead of making a new one.

A message that is not a message at all becomes a ``dead`` job with reason
``invalid_input`` straight away, with its raw bytes in the job input (base64, cut at
:data:`MAX_KEPT_RAW_BYTES`) so a person can see what arrived.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog
from celery import Celery

from libs.documents.warehouse import ContentType, DocumentStore, put_document
from libs.text.email_parsing import ParsedEmail, UnparsableEmail, parse_email
from producers.email.attachments import children_of, store_children
from schemas.job import DeadReason, Job, JobStatus, utcnow
from sluice.enqueue import submit
from sluice.errors import UnstorableValue
from sluice.settings import Settings
from sluice.stores import IdempotencyConflict, JobStore

log = structlog.get_logger(__name__)

SOURCE = "email"
EXTRACT_KIND = "extract"
MAX_KEPT_RAW_BYTES = 1024 * 1024


class IntakeStatus(StrEnum):
    QUEUED = "queued"  # a new extract job
    DUPLICATE = "duplicate"  # seen before: the existing job is returned
    DEAD = "dead"  # not an email: a dead job with the raw bytes


@dataclass(frozen=True)
class IntakeOutcome:
    key: str
    status: IntakeStatus
    job_id: str
    document_id: str | None = None


def idempotency_key(schema: str, key: str) -> str:
    """One extract job per message and schema: a re-extract under a new schema is new work."""
    return f"email:{schema}:{key}"


def document_content(parsed: ParsedEmail) -> str:
    """What the warehouse keeps and embeds: the headers people search by, then the body."""
    return f"Subject: {parsed.subject}\nFrom: {parsed.sender}\n\n{parsed.text}"


class EmailIntake:
    """Turns raw RFC 822 bytes into a warehouse document and an extract job."""

    def __init__(
        self, *, settings: Settings, store: JobStore, celery: Celery, documents: DocumentStore
    ) -> None:
        self._settings = settings
        self._store = store
        self._celery = celery
        self._documents = documents

    def ingest(
        self,
        raw: bytes,
        *,
        schema: str,
        origin: dict[str, Any] | None = None,
        declared_size: int | None = None,
    ) -> IntakeOutcome:
        """Store and queue one message. ``declared_size`` is the size the server reported
        when only the first bytes were fetched: above the limit it is refused unparsed."""
        origin = origin or {}
        size = max(len(raw), declared_size or 0)
        if size > self._settings.email_max_message_bytes:
            why = f"message is {size} bytes, above the limit of "
            why += f"{self._settings.email_max_message_bytes}"
            return self._dead_letter(raw, schema, origin, why, size=size)
        try:
            parsed = parse_email(raw, max_bytes=self._settings.email_max_message_bytes)
        except UnparsableEmail as exc:
            return self._dead_letter(raw, schema, origin, exc.why)
        if not parsed.llm_text.strip() and not parsed.subject.strip():
            return self._dead_letter(raw, schema, origin, "no text in the message")
        children = children_of(raw, source=SOURCE, key=parsed.key, settings=self._settings)
        links = {"attachment_documents": [child.link() for child in children]} if children else {}
        try:
            document, _ = put_document(
                self._documents,
                store=self._store,
                celery=self._celery,
                settings=self._settings,
                source=SOURCE,
                doc_id=parsed.key,
                content=document_content(parsed),
                content_type=ContentType.TEXT,
                metadata={**parsed.metadata(), "origin": origin, **links},
            )
        except UnstorableValue as exc:
            # Retrying cannot help (MongoDB: text over 16 MiB): dead-letter it, so the
            # mailbox's checkpoint moves past it instead of stopping at it forever.
            return self._dead_letter(raw, schema, origin, f"the store refused it: {exc.why}")
        attachments = store_children(
            children, parent_id=document.id, source=SOURCE, documents=self._documents,
            store=self._store, celery=self._celery, settings=self._settings,
        )
        limit = self._settings.email_max_text_chars
        job_input = {
            "schema": schema,
            # A message with only a subject is still a request; the subject is its text.
            "text": (parsed.llm_text.strip() or parsed.subject)[:limit],
            "text_truncated": len(parsed.llm_text) > limit,
            "source": SOURCE,
            "doc_id": parsed.key,
            "document_id": document.id,
            "email": {
                "message_id": parsed.message_id,
                "subject": parsed.subject,
                "from": parsed.sender,
                "to": parsed.recipients,
                "date": parsed.date,
                "attachments": [vars(attachment) for attachment in parsed.attachments],
            },
            "origin": origin,
        }
        if attachments:
            job_input["attachments"] = attachments
        key = idempotency_key(schema, parsed.key)
        try:
            job, created = submit(
                EXTRACT_KIND, job_input, idempotency_key=key,
                store=self._store, celery=self._celery, settings=self._settings,
            )
        except IdempotencyConflict as exc:
            if exc.existing.input.get("doc_id") == parsed.key:
                # Same message, different input (another origin, a changed text limit):
                # the message was taken already, and that is what counts.
                job, created = exc.existing, False
            else:
                # The key holds a job that is not this message (a client's, stored before
                # client keys were namespaced): the message still gets its own job.
                log.warning("email key taken by another job", key=key,
                            taken_by=exc.existing.id)
                try:
                    job, created = submit(
                        EXTRACT_KIND, job_input, idempotency_key=f"{key}:own",
                        store=self._store, celery=self._celery, settings=self._settings,
                    )
                except IdempotencyConflict as again:  # ours, with another input
                    job, created = again.existing, False
        status = IntakeStatus.QUEUED if created else IntakeStatus.DUPLICATE
        log.info("email ingested", key=parsed.key, status=status, job_id=job.id,
                 body_type=parsed.body_type, attachments=len(parsed.attachments))
        return IntakeOutcome(parsed.key, status, job.id, document.id)

    def _dead_letter(
        self, raw: bytes, schema: str, origin: dict[str, Any], why: str,
        size: int | None = None,
    ) -> IntakeOutcome:
        digest = hashlib.sha256(raw).hexdigest()
        key = f"raw:{digest}"
        kept = raw[:MAX_KEPT_RAW_BYTES]
        now = utcnow()
        job = Job(
            kind=EXTRACT_KIND,
            status=JobStatus.DEAD,
            reason=DeadReason.INVALID_INPUT,
            error=f"unparsable email: {why}",
            idempotency_key=idempotency_key(schema, key),
            max_deliveries=self._settings.max_deliveries,
            input={
                "schema": schema,
                "source": SOURCE,
                "raw_base64": base64.b64encode(kept).decode(),
                "raw_sha256": digest,
                "raw_size": size or len(raw),
                "raw_truncated": len(kept) < (size or len(raw)),
                "origin": origin,
            },
            finished_at=now,
        )
        try:
            stored, created = self._store.create(job)
        except IdempotencyConflict as exc:
            stored, created = exc.existing, False
        log.warning("unparsable email dead-lettered", key=key, why=why, job_id=stored.id)
        return IntakeOutcome(key, IntakeStatus.DEAD if created else IntakeStatus.DUPLICATE,
                             stored.id)
