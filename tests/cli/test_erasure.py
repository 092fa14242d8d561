"""Erasure: a person planted in every store Sluice keeps is, after one admin call, found in
none of them, down to the bytes of the SQLite files; everyone else's data stays."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from cli.embedded_redis import EmbeddedRedis
from cli.erasure import erase_everywhere
from dlq_dashboard.audit import AuditLog
from dlq_dashboard.database import dashboard_db_path, open_dashboard_db
from libs.erasure import subject_hash
from libs.sinks.jsonl import append_record, jsonl_path
from libs.sinks.records import open_records
from producers.api.app import create_app
from schemas.job import Job, JobStatus, utcnow
from sluice.job_events import events_key
from tests.support.polling import wait_for
from tests.support.rag_env import JOB_TIMEOUT, rag_env

ADMIN_KEY = "admin-key-for-erasure"
PERSON = "Jane.Doe@example.com"
OTHER = "sam.roe@example.org"


def mail(address: str, order: str) -> str:
    return f"From: {address}\nSubject: order {order}\n\nMy order {order} arrived broken."


@pytest.mark.slow
def test_erasing_a_person_leaves_nothing_of_them_in_any_store(
    redis_server: EmbeddedRedis, tmp_path: Path,
) -> None:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    with rag_env(tmp_path, redis_server.url, admin_api_keys=ADMIN_KEY,
                 sinks="records,jsonl") as rag:
        env = rag.sluice
        settings = env.settings
        # The person in the warehouse and Qdrant, beside someone else.
        theirs, _ = rag.put("email", "m-1", mail(PERSON, "A-100"))
        others, _ = rag.put("email", "m-2", mail(OTHER, "B-200"))
        for document in (theirs, others):
            assert document.embed_job_id is not None
            rag.finished(document.embed_job_id)
        assert rag.points("email", "m-1")
        # In jobs: one waiting with their address as input, one done with it in its result.
        # Waiting for a day: a queued one would be found by recovery and run while the
        # erasure is under way, and the worker's events for it could outlive its stream.
        # Its event stream holds its creation (published within the publisher's batching
        # window; waited for below, or it could land after the erasure) and, planted, the
        # person's address.
        waiting, _ = env.store.create(Job(kind="echo", input={"from": PERSON.upper()},
                                          status=JobStatus.SCHEDULED,
                                          run_at=utcnow() + timedelta(days=1)))
        done, _ = env.store.create(Job(kind="extract", input={"document_id": theirs.id},
                                       status=JobStatus.SUCCEEDED,
                                       result={"customer_email": PERSON}))
        kept, _ = env.store.create(Job(kind="echo", input={"from": OTHER}))
        broker = redis.Redis(unix_socket_path=str(redis_server.socket_path))
        broker.xadd(events_key(waiting.id), {"event": f'{{"input": "{PERSON}"}}'})
        wait_for(lambda: broker.xlen(events_key(waiting.id)) == 2,
                 what="the waiting job's creation event on its stream")
        # In the sinks and the dashboard's audit trail.
        records = open_records(settings)
        records.put(done.id, "support_ticket", 1, {"customer_email": PERSON})
        records.put(kept.id, "support_ticket", 1, {"customer_email": OTHER})
        for job, address in ((done, PERSON), (kept, OTHER)):
            append_record(jsonl_path(settings), job.id, "support_ticket", 1,
                          {"customer_email": address}, check_existing=False)
        dashboard = open_dashboard_db(settings)
        AuditLog(dashboard).append("alice", "resolve", done.id, changes=[
            {"field": "customer_email", "before": None, "after": PERSON}])
        AuditLog(dashboard).append("alice", "resolve", kept.id, changes=[
            {"field": "customer_email", "before": None, "after": OTHER}])

        api = TestClient(create_app(settings, erase=partial(erase_everywhere,
                                                            settings=settings)))
        refused = api.post("/v1/admin/erasures", json={"email": PERSON},
                           headers=env.auth())
        assert refused.status_code == 403  # a tenant key may not erase
        assert api.post("/v1/admin/erasures", json={"email": "jane"},
                        headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 422
        response = api.post("/v1/admin/erasures", json={"email": PERSON},
                            headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["subject_sha256"] == subject_hash(PERSON)
        # Jobs: the waiting one, the done one, and the probe above whose result quoted the
        # chunk's text.
        assert report["erased"] == {"documents": 1, "vector_deletions_queued": 1, "jobs": 3,
                                    "records": 1, "jsonl_lines": 1, "audit_entries": 1}

        # Its vectors go with the delete job the erasure queued.
        delete = next(job for job in env.store.list_jobs(limit=100).items
                      if job.kind == "delete")
        rag.finished(delete.id, timeout=JOB_TIMEOUT)
        assert rag.points("email", "m-1") == []
        assert len(rag.points("email", "m-2")) >= 1

        # Nothing of the person is left anywhere; the other customer's data all is.
        needle = PERSON.lower().encode()
        assert [ref.doc_id for ref in rag.documents.iter_documents()] == ["m-2"]
        for job_id in (waiting.id, done.id):
            with pytest.raises(KeyError):
                env.store.get(job_id)
        assert env.store.get(kept.id).input == {"from": OTHER}
        assert records.get(done.id) is None and records.get(kept.id) is not None
        assert needle not in jsonl_path(settings).read_bytes().lower()
        assert OTHER.encode() in jsonl_path(settings).read_bytes()
        server = redis.Redis(unix_socket_path=str(redis_server.socket_path))
        assert not server.exists(events_key(waiting.id))
        rows = dashboard.get().execute("SELECT action, job_id, changes, detail FROM audit")
        audit = [(row[0], row[1], row[2] + row[3]) for row in rows]
        assert [entry[0] for entry in audit] == ["resolve", "resolve", "erase"]
        assert subject_hash(PERSON) in audit[2][2] and OTHER in audit[1][2]
        records.close()
        dashboard.close()
        for path in (settings.sqlite_path, dashboard_db_path(settings)):
            checkpoint(path)
            for file in path.parent.glob(path.name + "*"):
                assert needle not in file.read_bytes().lower(), f"{file.name} still holds it"


def checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, as SQLite does on its own over time."""
    connection = sqlite3.connect(path, timeout=10)
    try:
        wait_for(lambda: connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                 == 0, timeout=30, what=f"a full checkpoint of {path.name}")
    finally:
        connection.close()
