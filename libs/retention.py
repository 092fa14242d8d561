"""The retention sweep: delete what Sluice has finished with, once it is older than the
settings allow, a batch at a time, counting what went in ``sluice_retention_purged_total``.

- settled jobs (terminal states only: a dead-lettered job waits for a person);
- email bodies: the warehouse documents the email producer stored, their attachments, and
  their vectors
  (through the same ``delete`` job as any removed document);
- accepted records in the records sink.

The dashboard's audit entries are swept by the dashboard itself (dlq_dashboard/erasure.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import Celery

from libs.documents.warehouse import DocumentStore
from libs.erasure import remove_with_attachments
from libs.sinks.records import RecordStore
from schemas.job import utcnow
from sluice.instruments import RETENTION_PURGED
from sluice.settings import Settings
from sluice.stores import JobStore

EMAIL_SOURCE = "email"  # producers/email stores message text under this source


@dataclass
class Purged:
    jobs: int = 0
    email_bodies: int = 0
    records: int = 0
    batches: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, rows: int) -> None:
        setattr(self, what, getattr(self, what) + rows)
        self.batches[what] = self.batches.get(what, 0) + 1
        RETENTION_PURGED.labels(what=what).inc(rows)


def sweep(
    *,
    store: JobStore,
    documents: DocumentStore,
    records: RecordStore,
    celery: Celery,
    settings: Settings,
    now: datetime | None = None,
    max_batches: int = 100,
) -> Purged:
    """One pass; each kind of data stops at its first short batch or at ``max_batches``,
    so a backlog is worked off over several runs instead of in one long transaction."""
    now = now or utcnow()
    batch = settings.retention_batch
    purged = Purged()
    if settings.keep_settled_jobs_days:
        cutoff = now - timedelta(days=settings.keep_settled_jobs_days)
        for _ in range(max_batches):
            deleted = store.purge_settled(cutoff, batch=batch)
            purged.count("jobs", deleted)
            if deleted < batch:
                break
    if settings.keep_email_bodies_days:
        cutoff = now - timedelta(days=settings.keep_email_bodies_days)
        for _ in range(max_batches):
            ids = documents.stale(EMAIL_SOURCE, cutoff, batch)
            for document_id in ids:
                remove_with_attachments(documents, document_id, store=store, celery=celery,
                                        settings=settings)
            purged.count("email_bodies", len(ids))
            if len(ids) < batch:
                break
    if settings.keep_records_days:
        cutoff = now - timedelta(days=settings.keep_records_days)
        for _ in range(max_batches):
            deleted = records.purge_before(cutoff, batch)
            purged.count("records", deleted)
            if deleted < batch:
                break
    return purged
