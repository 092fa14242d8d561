"""Erase a person: every job, document, vector and record that mentions their address.

What it reaches, in this order:

1. warehouse documents that mention the address, and the attachments stored as their
   children, removed with a ``delete`` job for their vectors in Qdrant (the same path as
   any removed document);
2. jobs whose input, result, attempts or trace mention the address, deleted outright (an
   attempt holds the model's raw output, so blanking the input alone would not do), with
   their event streams in Redis;
3. accepted records in the records sink and lines of the JSONL sink that mention it.

Jobs go after documents, so the ``delete`` jobs queued in step 1 (which name document ids,
not the person) are not themselves erased. The dashboard's audit trail is erased by the
dashboard's own module; :func:`cli.erasure.erase_everywhere` runs both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from celery import Celery

from libs.documents.warehouse import DocumentStore, delete_document
from libs.sinks.jsonl import erase_lines_containing, jsonl_path
from libs.sinks.records import RecordStore
from sluice.broker_redis import broker_redis
from sluice.job_events import events_key
from sluice.settings import Settings
from sluice.stores import JobStore


class NotAnAddress(ValueError):
    """Erasure takes an email address; anything shorter could match unrelated data."""


@dataclass
class Erased:
    documents: int = 0
    vector_deletions_queued: int = 0
    jobs: list[str] = field(default_factory=list)
    records: int = 0
    jsonl_lines: int = 0
    audit_entries: int = 0

    def summary(self) -> dict[str, int]:
        return {"documents": self.documents,
                "vector_deletions_queued": self.vector_deletions_queued,
                "jobs": len(self.jobs), "records": self.records,
                "jsonl_lines": self.jsonl_lines, "audit_entries": self.audit_entries}


def subject_hash(address: str) -> str:
    """The stable, one-way name of an erased subject in logs and the audit trail."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def checked_address(address: str) -> str:
    address = address.strip()
    local, _, domain = address.partition("@")
    if not local or "." not in domain or len(address) < 6 or any(c.isspace() for c in address):
        raise NotAnAddress(f"not an email address: {address!r}")
    return address


def remove_with_attachments(
    documents: DocumentStore, document_id: str, *, store: JobStore, celery: Celery,
    settings: Settings,
) -> list[str | None]:
    """Remove a document and the attachments stored as its children (an invoice need not
    name its sender to be theirs); per removed document, its vector delete job's id."""
    removed, job = delete_document(documents, store=store, celery=celery, settings=settings,
                                   document_id=document_id)
    if removed is None:
        return []
    jobs: list[str | None] = [job.id if job else None]
    for child in removed.metadata.get("attachment_documents", []):
        jobs += remove_with_attachments(documents, str(child["document_id"]), store=store,
                                        celery=celery, settings=settings)
    return jobs


def erase_person(
    address: str,
    *,
    store: JobStore,
    documents: DocumentStore,
    records: RecordStore,
    celery: Celery,
    settings: Settings,
) -> Erased:
    address = checked_address(address)
    erased = Erased()
    while ids := documents.ids_containing(address, 200):
        for document_id in ids:
            for removed_id in remove_with_attachments(documents, document_id, store=store,
                                                      celery=celery, settings=settings):
                erased.documents += 1
                erased.vector_deletions_queued += removed_id is not None
    erased.jobs = store.erase_containing(address)
    if erased.jobs:
        broker_redis(settings).delete(*(events_key(job_id) for job_id in erased.jobs))
    erased.records = records.erase_containing(address)
    erased.jsonl_lines = erase_lines_containing(jsonl_path(settings), address)
    return erased
