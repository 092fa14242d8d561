"""The retention sweep: what is old and finished goes, a batch at a time, and is counted;
what waits for a person or is still young stays. The audit trail stays append-only except
through the sweep's and the erasure's permits."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from dlq_dashboard.audit import AuditLog
from dlq_dashboard.database import open_dashboard_db
from dlq_dashboard.erasure import erase_from_audit, purge_audit
from libs.documents.warehouse import ContentType, open_documents, put_document
from libs.retention import EMAIL_SOURCE, sweep
from libs.sinks.records import open_records
from schemas.job import DeadReason, Job, JobStatus, utcnow
from tests.conftest import SluiceEnv


def purged_total(what: str) -> float:
    return REGISTRY.get_sample_value("sluice_retention_purged_total", {"what": what}) or 0.0


def old_job(env: SluiceEnv, status: JobStatus, days: int, **fields: object) -> Job:
    moment = utcnow() - timedelta(days=days)
    job, _ = env.store.create(Job(kind="echo", input={"n": days}, status=status,
                                  created_at=moment, updated_at=moment, **fields))
    return job


def test_the_sweep_purges_old_settled_jobs_in_batches_and_keeps_the_rest(
    sluice_env: SluiceEnv,
) -> None:
    settings = sluice_env.settings.model_copy(update={"retention_batch": 2,
                                                      "keep_settled_jobs_days": 30})
    old = [old_job(sluice_env, JobStatus.SUCCEEDED, 40) for _ in range(5)]
    cancelled = old_job(sluice_env, JobStatus.CANCELLED, 31)
    dead = old_job(sluice_env, JobStatus.DEAD, 90, reason=DeadReason.EXHAUSTED)
    young = old_job(sluice_env, JobStatus.SUCCEEDED, 3)
    queued = old_job(sluice_env, JobStatus.QUEUED, 60)
    before = purged_total("jobs")
    documents, records = open_documents(settings), open_records(settings)
    try:
        purged = sweep(store=sluice_env.store, documents=documents, records=records,
                       celery=sluice_env.celery, settings=settings)
    finally:
        documents.close()
        records.close()
    assert purged.jobs == 6 and purged.batches["jobs"] == 4  # 2 + 2 + 2 + a short one
    assert purged_total("jobs") - before == 6
    for job in [*old, cancelled]:
        with pytest.raises(KeyError):
            sluice_env.store.get(job.id)
    for job in (dead, young, queued):
        assert sluice_env.store.get(job.id).status is job.status


def test_the_sweep_purges_old_email_bodies_with_their_vectors_and_old_records(
    sluice_env: SluiceEnv,
) -> None:
    settings = sluice_env.settings.model_copy(update={
        "keep_email_bodies_days": 30, "keep_records_days": 400, "keep_settled_jobs_days": 0})
    documents, records = open_documents(settings), open_records(settings)
    try:
        stored = {}
        for doc_id, source in (("old-mail", EMAIL_SOURCE), ("new-mail", EMAIL_SOURCE),
                               ("old-page", "crawl")):
            stored[doc_id], _ = put_document(
                documents, store=sluice_env.store, celery=sluice_env.celery, settings=settings,
                source=source, doc_id=doc_id, content=f"text of {doc_id}",
                content_type=ContentType.TEXT)
        long_ago = utcnow() - timedelta(days=45)
        for doc_id in ("old-mail", "old-page"):
            documents._db.get().execute(  # type: ignore[attr-defined]
                "UPDATE documents SET updated_at = ? WHERE id = ?",
                (long_ago.isoformat(), stored[doc_id].id))
        records.put("job-old", "support_ticket", 1, {"order": "A-1"})
        records.put("job-new", "support_ticket", 1, {"order": "A-2"})
        records._db.get().execute(  # type: ignore[attr-defined]
            "UPDATE records SET created_at = '2020-01-01T00:00:00.000000Z'"
            " WHERE job_id = 'job-old'")

        purged = sweep(store=sluice_env.store, documents=documents, records=records,
                       celery=sluice_env.celery, settings=settings)

        assert (purged.email_bodies, purged.records, purged.jobs) == (1, 1, 0)
        remaining = {ref.doc_id for ref in documents.iter_documents()}
        assert remaining == {"new-mail", "old-page"}  # only email bodies age out
        assert records.get("job-old") is None and records.get("job-new") is not None
        deletes = [job for job in sluice_env.store.list_jobs(limit=50).items
                   if job.kind == "delete"]
        assert [job.input["doc_id"] for job in deletes] == ["old-mail"]  # its vectors go too
    finally:
        documents.close()
        records.close()


def test_the_audit_trail_refuses_changes_except_through_the_sweep_and_erasure(
    sluice_env: SluiceEnv,
) -> None:
    db = open_dashboard_db(sluice_env.settings)
    try:
        audit = AuditLog(db)
        audit.append("alice", "resolve", "job-1", changes=[{"field": "email",
                                                             "after": "ann@example.org"}])
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.get().execute("UPDATE audit SET detail = '{}'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.get().execute("DELETE FROM audit")

        assert erase_from_audit(db, "ann@example.org", ["job-1"]) == 1
        assert purge_audit(db, sluice_env.settings) == 0  # nothing is a year old yet
        settings = sluice_env.settings.model_copy(update={"keep_audit_days": 1})
        assert purge_audit(db, settings, now=utcnow() + timedelta(days=2)) == 2
        rows = db.get().execute("SELECT action, changes, detail FROM audit").fetchall()
        assert [row[0] for row in rows] == ["retention"]  # the stub says what went
        assert '"purged": 2' in rows[0][2]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.get().execute("DELETE FROM audit")
    finally:
        db.close()


def test_an_email_body_goes_with_the_attachments_stored_as_its_children(
    sluice_env: SluiceEnv,
) -> None:
    settings = sluice_env.settings.model_copy(update={"keep_email_bodies_days": 30,
                                                      "keep_settled_jobs_days": 0})
    documents, records = open_documents(settings), open_records(settings)
    try:
        def put(doc_id: str, **metadata: object) -> str:
            document, _ = put_document(
                documents, store=sluice_env.store, celery=sluice_env.celery,
                settings=settings, source=EMAIL_SOURCE, doc_id=doc_id,
                content=f"text of {doc_id}", content_type=ContentType.TEXT, metadata=metadata)
            return document.id

        child = put("m-1/attachment/1")
        parent = put("m-1", attachment_documents=[{"document_id": child}])
        documents._db.get().execute(  # type: ignore[attr-defined]
            "UPDATE documents SET updated_at = ? WHERE id = ?",
            ((utcnow() - timedelta(days=45)).isoformat(), parent))

        sweep(store=sluice_env.store, documents=documents, records=records,
              celery=sluice_env.celery, settings=settings)

        assert list(documents.iter_documents()) == []
        deletes = {job.input["doc_id"] for job in sluice_env.store.list_jobs(limit=50).items
                   if job.kind == "delete"}
        assert deletes == {"m-1", "m-1/attachment/1"}
    finally:
        documents.close()
        records.close()
