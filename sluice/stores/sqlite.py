"""The embedded job store: one SQLite file in WAL mode, the default."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.job import Job, JobStatus, utcnow
from sluice.stores.base import JobNotFound, JobQuery, JobStore, format_time
from sluice.stores.migrations import Step, migrate
from sluice.stores.quarantine import UnreadableJob, job_from_json
from sluice.stores.sql_filters import Clause, SQLDialect, filter_clauses, where_sql
from sluice.stores.sqlite_db import SQLiteConnections
from sluice.stores.sqlite_finished import FINISHED_COUNTS_STEPS, finished_counts

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    idempotency_key TEXT UNIQUE,
    tenant TEXT NOT NULL DEFAULT 'default',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    wake_at TEXT,
    doc TEXT NOT NULL,
    error_signature TEXT,
    crawl_id TEXT,
    batch_run TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at, id);
CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs (status, created_at, id);
CREATE INDEX IF NOT EXISTS jobs_kind_created ON jobs (kind, created_at, id);
"""


def _add_tenant_column(connection: sqlite3.Connection) -> None:
    # A file made before tenants existed lacks the column; its rows are the default's.
    columns = {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
    if "tenant" not in columns:
        connection.execute("ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default'")


def _add_wake_at_column(connection: sqlite3.Connection) -> None:
    # When the due sweep must look at the job (Job.wake_at): scheduled jobs, callbacks.
    columns = {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
    if "wake_at" not in columns:
        connection.execute("ALTER TABLE jobs ADD COLUMN wake_at TEXT")


# A field of the stored document; a row that is not valid JSON (quarantined when read)
# has no fields, instead of failing the whole query with "malformed JSON".
_FIELD = "CASE WHEN json_valid(doc) THEN json_extract(doc, ?) END"

# Fields of the document that hot paths filter or group on, copied into indexed columns
# on every write (a json_extract over ``doc`` would read every row): dotted path -> column.
FIELD_COLUMNS = {
    "error_signature": "error_signature",
    "input.crawl_id": "crawl_id",
    "input.batch_run": "batch_run",
}
# Paths that are real columns already.
_COLUMNS = {"kind": "kind", "status": "status", "reason": "reason", "tenant": "tenant",
            **FIELD_COLUMNS}


def _add_field_columns(connection: sqlite3.Connection) -> None:
    # Filled once from the documents a file holds; the store writes them from then on.
    columns = {row[1] for row in connection.execute("PRAGMA table_info(jobs)")}
    for path, column in FIELD_COLUMNS.items():
        if column not in columns:
            connection.execute(f"ALTER TABLE jobs ADD COLUMN {column} TEXT")
            connection.execute(f"UPDATE jobs SET {column} = {_FIELD}", (f"$.{path}",))


# The job store's steps in the shared file (owner "jobs"); append only.
MIGRATIONS: tuple[Step, ...] = (
    _add_tenant_column,
    "CREATE INDEX IF NOT EXISTS jobs_tenant_created ON jobs (tenant, created_at, id)",
    _add_wake_at_column,
    "CREATE INDEX IF NOT EXISTS jobs_wake_at ON jobs (wake_at) WHERE wake_at IS NOT NULL",
    *FINISHED_COUNTS_STEPS,
    _add_field_columns,
    # Live-set gauges and the dead-letter queue's groups read these indexes alone.
    "CREATE INDEX IF NOT EXISTS jobs_status_kind ON jobs (status, kind)",
    "CREATE INDEX IF NOT EXISTS jobs_status_reason ON jobs (status, reason)",
    "CREATE INDEX IF NOT EXISTS jobs_status_signature ON jobs (status, error_signature)",
    "CREATE INDEX IF NOT EXISTS jobs_crawl ON jobs (crawl_id) WHERE crawl_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS jobs_batch_run ON jobs (batch_run, status)"
    " WHERE batch_run IS NOT NULL",
    # One index serves those three groupings: a status change moves an entry in every
    # index that starts with the status, two pages each (the old place and the new) in
    # every write's WAL frames. Four such indexes made a delivery write ten pages.
    "CREATE INDEX IF NOT EXISTS jobs_status_groups"
    " ON jobs (status, kind, reason, error_signature)",
    "DROP INDEX IF EXISTS jobs_status_kind",
    "DROP INDEX IF EXISTS jobs_status_reason",
    "DROP INDEX IF EXISTS jobs_status_signature",
)


def _statuses(statuses: Sequence[JobStatus]) -> Clause:
    return f"status IN ({','.join('?' * len(statuses))})", [status.value for status in statuses]


def _field(path: str, value: Any) -> Clause:
    if path in FIELD_COLUMNS:
        if value is None:
            return f"{FIELD_COLUMNS[path]} IS NULL", []
        return f"{FIELD_COLUMNS[path]} = ?", [value]
    if value is None:
        return f"{_FIELD} IS NULL", [f"$.{path}"]
    return f"{_FIELD} = ?", [f"$.{path}", value]


_DIALECT = SQLDialect(mark="?", time=format_time, statuses=_statuses, field=_field,
                      wake_guard="wake_at IS NOT NULL AND ")


# The first delivery of a job (JobStore._count_first_delivery) as one statement: only a
# queued job that was never delivered, whose message this is (or that names none), with a
# poison cap of at least one. The CASE keeps a quarantined row (not JSON) out of
# json_extract, which would fail the statement; the general path reports that row.
_FIRST_DELIVERY = (
    "UPDATE jobs SET status = 'running', version = version + 1, updated_at = :updated_at,"
    " doc = json_set(doc, '$.status', 'running', '$.deliveries', 1, '$.started_at', :now,"
    " '$.updated_at', :now, '$.version', version + 1)"
    " WHERE id = :id AND status = 'queued' AND CASE WHEN json_valid(doc) THEN"
    " json_extract(doc, '$.deliveries') = 0 AND json_extract(doc, '$.retries') = 0"
    " AND json_extract(doc, '$.max_deliveries') >= 1"
    " AND json_extract(doc, '$.started_at') IS NULL"
    " AND coalesce(json_extract(doc, '$.task_id') = :task_id, 1) ELSE 0 END"
    " RETURNING doc"
)
# A time as the job's own JSON writes it, for the fields _FIRST_DELIVERY sets.
_JSON_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class SQLiteJobStore(JobStore):
    def __init__(self, path: Path) -> None:
        self._db = SQLiteConnections(path, SCHEMA)
        migrate(self._db.get(), MIGRATIONS, owner="jobs")

    @staticmethod
    def _indexed(job: Job) -> dict[str, Any]:
        """The columns a write may move that indexes cover (kind, tenant, creation and
        idempotency key are fixed at insert)."""
        return {
            "status": job.status.value,
            "reason": job.reason.value if job.reason else None,
            "wake_at": format_time(job.wake_at) if job.wake_at else None,
            "error_signature": job.error_signature,
            "crawl_id": _text(job.input.get("crawl_id")),
            "batch_run": _text(job.input.get("batch_run")),
        }

    def _row(self, job: Job) -> dict[str, Any]:
        return {
            "id": job.id,
            "kind": job.kind,
            "idempotency_key": job.idempotency_key,
            "tenant": job.tenant,
            "created_at": format_time(job.created_at),
            "updated_at": format_time(job.updated_at),
            "version": job.version,
            "doc": job.model_dump_json(),
            **self._indexed(job),
        }

    def _insert(self, job: Job) -> bool:
        try:
            self._db.get().execute(
                "INSERT INTO jobs (id, kind, status, reason, idempotency_key, tenant,"
                " created_at, updated_at, version, wake_at, doc, error_signature, crawl_id,"
                " batch_run) VALUES (:id, :kind, :status, :reason, :idempotency_key, :tenant,"
                " :created_at, :updated_at, :version, :wake_at, :doc, :error_signature,"
                " :crawl_id, :batch_run)",
                self._row(job),
            )
        except sqlite3.IntegrityError as exc:
            if "idempotency_key" in str(exc):
                return False
            raise
        return True

    def get(self, job_id: str) -> Job:
        row = self._db.get().execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        job = job_from_json(row[0], job_id=job_id)
        if job is None:
            raise UnreadableJob(job_id)
        return job

    def get_by_idempotency_key(self, key: str) -> Job | None:
        row = (
            self._db.get()
            .execute("SELECT doc FROM jobs WHERE idempotency_key = ?", (key,))
            .fetchone()
        )
        return job_from_json(row[0]) if row else None

    def _replace(self, job: Job, current: Job) -> bool:
        # Only the indexed columns whose value moved are set: SQLite rewrites the entries
        # of every index on a column named in SET, changed or not, and three indexes
        # include the status (a sent mark then writes the row's page alone).
        row = self._row(job)
        before = self._indexed(current)
        moved = [column for column in before if before[column] != row[column]]
        assignments = ", ".join(f"{column} = :{column}"
                                for column in ("updated_at", "version", "doc", *moved))
        cursor = self._db.get().execute(
            f"UPDATE jobs SET {assignments} WHERE id = :id AND version = :expected",
            {**row, "expected": current.version},
        )
        return cursor.rowcount == 1

    def _count_first_delivery(self, job_id: str, task_id: str) -> Job | None:
        now = utcnow()
        row = self._db.get().execute(_FIRST_DELIVERY, {
            "id": job_id, "task_id": task_id, "updated_at": format_time(now),
            "now": _JSON_TIME.dump_python(now, mode="json"),
        }).fetchone()
        if row is None:
            return None
        job = job_from_json(row[0], job_id=job_id)
        if job is None:
            raise UnreadableJob(job_id)
        return job

    def _delete(self, job_ids: Sequence[str]) -> int:
        if not job_ids:
            return 0
        marks = ", ".join("?" * len(job_ids))
        connection = self._db.get()
        # secure_delete overwrites the freed pages: an erased address must not linger in
        # the file's free list.
        connection.execute("PRAGMA secure_delete = ON")
        cursor = connection.execute(f"DELETE FROM jobs WHERE id IN ({marks})", list(job_ids))
        return cursor.rowcount

    def _ids_containing(self, needle: str, limit: int) -> list[str]:
        rows = self._db.get().execute(
            "SELECT id FROM jobs WHERE instr(lower(doc), lower(?)) > 0 LIMIT ?", (needle, limit)
        ).fetchall()
        return [row[0] for row in rows]

    def _find(
        self, query: JobQuery, limit: int, after: tuple[str, str] | None, oldest_first: bool
    ) -> list[Job]:
        base_clauses, base_params = filter_clauses(query, _DIALECT)
        order = "ASC" if oldest_first else "DESC"
        jobs: list[Job] = []
        # A quarantined row is skipped, so read on past it until the page is full.
        while len(jobs) < limit:
            clauses, params = list(base_clauses), list(base_params)
            if after:
                clauses.append(f"(created_at, id) {'>' if oldest_first else '<'} (?, ?)")
                params.extend(after)
            where = where_sql(clauses)
            wanted = limit - len(jobs)
            rows = self._db.get().execute(
                f"SELECT id, created_at, doc FROM jobs {where}"
                f" ORDER BY created_at {order}, id {order} LIMIT ?",
                [*params, wanted],
            ).fetchall()
            for job_id, created_at, doc in rows:
                job = job_from_json(doc, job_id=job_id)
                if job is not None:
                    jobs.append(job)
                after = (created_at, job_id)
            if len(rows) < wanted:
                break
        return jobs

    def count(self, query: JobQuery) -> int:
        clauses, params = filter_clauses(query, _DIALECT)
        where = where_sql(clauses)
        (total,) = self._db.get().execute(f"SELECT COUNT(*) FROM jobs {where}", params).fetchone()
        return int(total)

    def count_upto(self, query: JobQuery, cap: int) -> int:
        clauses, params = filter_clauses(query, _DIALECT)
        where = where_sql(clauses)
        (total,) = self._db.get().execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM jobs {where} LIMIT ?)", [*params, cap]
        ).fetchone()
        return int(total)

    def count_by(self, query: JobQuery, path: str) -> dict[str | None, int]:
        clauses, params = filter_clauses(query, _DIALECT)
        where = where_sql(clauses)
        if path in _COLUMNS:  # an indexed column: the count reads the index alone
            value, value_params = _COLUMNS[path], []
        else:
            value, value_params = _FIELD, [f"$.{path}"]
        rows = self._db.get().execute(
            f"SELECT {value} AS value, COUNT(*) FROM jobs {where} GROUP BY value",
            [*value_params, *params],
        )
        return {None if value is None else str(value): int(n) for value, n in rows}

    def finished_counts(self) -> dict[tuple[str, str], int]:
        return finished_counts(self._db.get())

    def ping(self) -> None:
        self._db.get().execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._db.close()

