"""Synthetic job history written in bulk into a SQLite job store, for scale benches and tests.

A store that has run for years holds mostly finished jobs, and a small live set (queued,
running, dead-lettered) that people and workers keep working off. :func:`add_history`
appends finished jobs straight into the table (one transaction per chunk, no pydantic per
row, the store's own triggers and indexes doing their part), :func:`add_live_set` writes
the live set through the store as the system would. Both sizes of a comparison share the
same live set; only the history grows.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from schemas.job import DeadReason, Job, JobStatus, utcnow
from sluice.stores.base import format_time
from sluice.stores.sqlite import SQLiteJobStore

CHUNK = 50_000
# What finished jobs look like, in rotation: mostly successes, some of each other ending.
ENDINGS = [JobStatus.SUCCEEDED] * 16 + [JobStatus.CANCELLED, JobStatus.DISCARDED,
                                        JobStatus.RESOLVED, JobStatus.REQUEUED]
KINDS = ["echo", "extract", "embed", "crawl.fetch"]
SIGNATURES = ["order_id:not_in_source", "order_date:date_parsing", "issue_type:enum"]


def _template(kind: str, status: JobStatus) -> dict[str, Any]:
    job = Job(kind=kind, input={"text": "a short synthetic input", "source": "bench"},
              status=status, deliveries=1, task_id="0" * 32, result={"ok": True})
    return job.model_dump(mode="json")


def add_history(store: SQLiteJobStore, count: int, *, first: int = 0) -> None:
    """Append ``count`` finished jobs, numbered from ``first``, older than the live set."""
    templates = {(kind, status): _template(kind, status)
                 for kind in KINDS for status in set(ENDINGS)}
    origin = utcnow() - timedelta(days=60)
    connections = store._db  # bulk rows go under the store, not through it
    for start in range(first, first + count, CHUNK):
        rows = []
        for index in range(start, min(start + CHUNK, first + count)):
            kind, status = KINDS[index % len(KINDS)], ENDINGS[index % len(ENDINGS)]
            created = format_time(origin + timedelta(milliseconds=index))
            document = dict(templates[(kind, status)])
            document.update(id=f"history-{index:012d}", created_at=created, updated_at=created,
                            started_at=created, finished_at=created, version=3)
            if kind == "crawl.fetch":
                document["input"] = {"url": f"https://site.test/{index}",
                                     "crawl_id": f"crawl-{index // 1000}"}
            rows.append((document["id"], kind, status.value, created, json.dumps(document)))
        with connections.transaction(immediate=False) as connection:
            connection.executemany(
                "INSERT INTO jobs (id, kind, status, reason, idempotency_key, tenant,"
                " created_at, updated_at, version, doc)"
                " VALUES (?, ?, ?, NULL, NULL, 'default', ?4, ?4, 3, ?5)",
                rows,
            )


def add_live_set(store: SQLiteJobStore, *, dead: int = 200, queued: int = 50,
                 running: int = 10) -> None:
    """The work in flight: dead items with error signatures, queued and running jobs."""
    now = utcnow()
    for index in range(dead):
        store.create(Job(
            kind="extract", input={"schema": "support_ticket", "source": "email:support",
                                   "sender": f"user{index % 50}@example.com", "email": "Hi"},
            status=JobStatus.DEAD, reason=DeadReason.EXHAUSTED, error="still invalid",
            schema_name="support_ticket", error_signature=SIGNATURES[index % len(SIGNATURES)],
            created_at=now - timedelta(hours=2, seconds=index),
        ))
    for index in range(queued):
        store.create(Job(kind="echo", input={"i": index}, task_id=f"q{index}",
                         sent_at=now, created_at=now - timedelta(seconds=index)))
    for index in range(running):
        store.create(Job(kind="echo", input={"i": index}, status=JobStatus.RUNNING,
                         deliveries=1, task_id=f"r{index}", started_at=now,
                         created_at=now - timedelta(seconds=index)))


__all__ = ["add_history", "add_live_set"]
