"""Synthetic job history written in bulk into a SQLite job store, for scale benches and tests.

A store that has run for years holds mostly finished jobs, and a small live set (queued,
running, dead-lettered) that people and workers keep working off. :func:`add_history`
appends finished jobs straight into the table (no pydantic per row; a large load drops and
rebuilds the indexes, as a bulk load does), :func:`add_live_set` writes
the live set through the store as the system would. Both sizes of a comparison share the
same live set; only the history grows.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

from schemas.job import DeadReason, Job, JobStatus, utcnow
from sluice.stores.sqlite import SQLiteJobStore
from sluice.stores.sqlite_finished import FINISHED_COUNTS_STEPS

CHUNK = 50_000
BULK_FROM = 50_000
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
    """Append ``count`` finished jobs, numbered from ``first``, older than the live set.

    Past :data:`BULK_FROM` rows it loads as a bulk load does: the secondary indexes and
    the counting triggers are dropped, the rows written, the indexes rebuilt once and the
    counters recounted, all in one transaction (the file ends as the store would leave it).
    """
    if count < BULK_FROM:
        _append(store, count, first)
        return
    with store._db.transaction() as connection:
        saved = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'jobs'"
            " AND type IN ('index', 'trigger') AND sql IS NOT NULL"
        ).fetchall()
        for kind, name, _sql in saved:
            connection.execute(f"DROP {kind.upper()} {name}")
        _append(store, count, first, connection)
        for _kind, _name, sql in saved:
            connection.execute(sql)
        connection.execute("DELETE FROM jobs_finished")
        connection.execute(FINISHED_COUNTS_STEPS[1])  # the migration's one-time count
    # A store that has run for long has its history in the file, not in a huge WAL.
    store._db.get().execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _append(store: SQLiteJobStore, count: int, first: int,
            connection: sqlite3.Connection | None = None) -> None:
    # One JSON text per (kind, status) with slots for what varies: no encoder per row.
    templates = {
        (kind, status): json.dumps({**_template(kind, status), "id": "@ID@", "created_at": "@T@",
                                    "updated_at": "@T@", "started_at": "@T@",
                                    "finished_at": "@T@", "version": 3,
                                    **({"input": {"url": "@URL@", "crawl_id": "@CRAWL@"}}
                                       if kind == "crawl.fetch" else {})})
        .replace("%", "%%").replace('"@ID@"', '"%(id)s"').replace('"@T@"', '"%(t)s"')
        .replace('"@URL@"', '"https://site.test/%(id)s"').replace('"@CRAWL@"', '"%(crawl)s"')
        for kind in KINDS for status in set(ENDINGS)
    }
    day = (utcnow() - timedelta(days=60)).strftime("%Y-%m-%dT")
    insert = ("INSERT INTO jobs (id, kind, status, reason, idempotency_key, tenant, created_at,"
              " updated_at, version, doc, crawl_id) VALUES (?, ?, ?, NULL, NULL, 'default',"
              " ?4, ?4, 3, ?5, ?6)")
    for start in range(first, first + count, CHUNK):
        rows = []
        for index in range(start, min(start + CHUNK, first + count)):
            kind, status = KINDS[index % len(KINDS)], ENDINGS[index % len(ENDINGS)]
            # A millisecond apart from midnight 60 days ago: fixed-width, so text order is
            # time order, as format_time's.
            seconds, millis = divmod(index, 1000)
            minutes, seconds = divmod(seconds, 60)
            hours, minutes = divmod(minutes, 60)
            created = f"{day}{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}000Z"
            job_id = f"history-{index:012d}"
            crawl = f"crawl-{index // 1000}" if kind == "crawl.fetch" else None
            document = templates[(kind, status)] % {"id": job_id, "t": created, "crawl": crawl}
            rows.append((job_id, kind, status.value, created, document, crawl))
        if connection is not None:
            connection.executemany(insert, rows)
        else:
            with store._db.transaction(immediate=False) as own:
                own.executemany(insert, rows)


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
