"""The job store on PostgreSQL (``SLUICE_DATABASE_URL``): one ``jobs`` table, JSONB documents.

The columns a listing filters or sorts on (status, kind, reason, tenant, times) are real
columns with an index per listing shape; any other field a query names (``input.schema``,
``error_signature``) is matched by JSONB containment, which one GIN index serves.
Compare-and-set is ``UPDATE ... WHERE id = ... AND version = ...``. All of this store's SQL
is in this module, but for the filter clauses that read as SQLite's do
(:mod:`sluice.stores.sql_filters`).

JSONB cannot hold a NUL character, which a job's input may (a stray byte in an email). Such
a job keeps its exact JSON in ``doc_exact``, which reads prefer, and a copy with U+FFFD in
place of each NUL in ``doc``, which only queries use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from psycopg import errors

from schemas.job import TERMINAL, Job, JobStatus
from sluice.stores.base import JobNotFound, JobQuery, JobStore
from sluice.stores.postgres_db import PostgresConnections
from sluice.stores.quarantine import UnreadableJob, job_from_json
from sluice.stores.sql_filters import Clause, SQLDialect, filter_clauses, where_sql

_TERMINAL = ", ".join(f"'{status.value}'" for status in sorted(TERMINAL))

# The "jobs" owner's steps; append only (step N of a release never changes).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        id TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        idempotency_key TEXT UNIQUE,
        tenant TEXT NOT NULL DEFAULT 'default',
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        version INTEGER NOT NULL,
        doc JSONB NOT NULL,
        doc_exact TEXT
    );
    -- newest first, and per status / kind / tenant (the API's and the dashboard's lists)
    CREATE INDEX jobs_created ON jobs (created_at, id);
    CREATE INDEX jobs_status_created ON jobs (status, created_at, id);
    CREATE INDEX jobs_kind_created ON jobs (kind, created_at, id);
    CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at, id);
    -- recovery: queued or running jobs nothing has touched for a while
    CREATE INDEX jobs_status_updated ON jobs (status, updated_at);
    -- the dead-letter queue grouped by error signature
    CREATE INDEX jobs_status_signature ON jobs (status, (doc ->> 'error_signature'));
    -- any other field a query names (input.crawl_id, input.batch_run, ...)
    CREATE INDEX jobs_doc ON jobs USING GIN (doc jsonb_path_ops);
    """,
    # When the due sweep must look at a job (Job.wake_at): scheduled jobs, owed callbacks.
    """
    ALTER TABLE jobs ADD COLUMN wake_at TIMESTAMPTZ;
    CREATE INDEX jobs_wake_at ON jobs (wake_at) WHERE wake_at IS NOT NULL;
    """,
    # Finished jobs per (kind, terminal status), kept by a trigger in the statement that
    # moves a job there: /metrics reads this small table, never the history. What a
    # database already holds is counted once, here, in the migration's transaction.
    f"""
    CREATE TABLE jobs_finished (kind TEXT NOT NULL, status TEXT NOT NULL,
                                total BIGINT NOT NULL, PRIMARY KEY (kind, status));
    INSERT INTO jobs_finished (kind, status, total)
        SELECT kind, status, COUNT(*) FROM jobs WHERE status IN ({_TERMINAL})
        GROUP BY kind, status;
    CREATE FUNCTION jobs_count_finished() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.status IN ({_TERMINAL})
           AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
            INSERT INTO jobs_finished (kind, status, total) VALUES (NEW.kind, NEW.status, 1)
            ON CONFLICT (kind, status) DO UPDATE SET total = jobs_finished.total + 1;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER jobs_finished_count AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_count_finished();
    -- the live-set gauges of /metrics read these alone
    CREATE INDEX jobs_status_kind ON jobs (status, kind);
    CREATE INDEX jobs_status_reason ON jobs (status, reason);
    """,
)

_COLUMNS = {"kind", "status", "reason", "tenant"}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# How a job is read: its exact JSON when JSONB could not hold it.
_DOC = "COALESCE(doc_exact, doc::text)"
_NUL = "\\u0000"  # NUL as JSON text writes it


def _cursor_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def _nested(path: str, value: Any) -> Any:
    """``("input.schema", "x")`` -> ``{"input": {"schema": "x"}}``, for containment."""
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _statuses(statuses: Sequence[JobStatus]) -> Clause:
    return "status = ANY(%s)", [[status.value for status in statuses]]


def _field(path: str, value: Any) -> Clause:
    if value is None:  # absent or null, as SQLite's json_extract sees it
        return "COALESCE(doc #> %s, 'null'::jsonb) = 'null'::jsonb", [path.split(".")]
    return "doc @> %s::jsonb", [json.dumps(_nested(path, value))]


_DIALECT = SQLDialect(mark="%s", time=lambda time: time, statuses=_statuses, field=_field)


def _documents(text: str) -> dict[str, str | None]:
    """The ``doc`` and ``doc_exact`` columns of a job's JSON text."""
    if _NUL not in text:
        return {"doc": text, "doc_exact": None}
    return {"doc": text.replace(_NUL, "\\ufffd"), "doc_exact": text}


class PostgresJobStore(JobStore):
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._db = PostgresConnections(url, pool_size)
        self._db.migrate("jobs", MIGRATIONS)

    def _row(self, job: Job) -> dict[str, Any]:
        return {
            "id": job.id,
            "kind": job.kind,
            "status": job.status.value,
            "reason": job.reason.value if job.reason else None,
            "idempotency_key": job.idempotency_key,
            "tenant": job.tenant,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "version": job.version,
            "wake_at": job.wake_at,
            **_documents(job.model_dump_json()),
        }

    def _insert(self, job: Job) -> bool:
        try:
            self._db.execute(
                "INSERT INTO jobs (id, kind, status, reason, idempotency_key, tenant,"
                " created_at, updated_at, version, doc, doc_exact, wake_at) VALUES (%(id)s,"
                " %(kind)s, %(status)s, %(reason)s, %(idempotency_key)s, %(tenant)s,"
                " %(created_at)s, %(updated_at)s, %(version)s, %(doc)s::jsonb, %(doc_exact)s,"
                " %(wake_at)s)",
                self._row(job),
            )
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "jobs_idempotency_key_key":
                return False
            raise
        return True

    def get(self, job_id: str) -> Job:
        row = self._db.fetchone(f"SELECT {_DOC} FROM jobs WHERE id = %s", (job_id,))
        if row is None:
            raise JobNotFound(job_id)
        job = job_from_json(row[0], job_id=job_id)
        if job is None:
            raise UnreadableJob(job_id)
        return job

    def get_by_idempotency_key(self, key: str) -> Job | None:
        row = self._db.fetchone(f"SELECT {_DOC} FROM jobs WHERE idempotency_key = %s", (key,))
        return job_from_json(row[0]) if row else None

    def _replace(self, job: Job, current: Job) -> bool:
        changed = self._db.execute(
            "UPDATE jobs SET status = %(status)s, reason = %(reason)s,"
            " updated_at = %(updated_at)s, version = %(version)s, doc = %(doc)s::jsonb,"
            " doc_exact = %(doc_exact)s, wake_at = %(wake_at)s"
            " WHERE id = %(id)s AND version = %(expected)s",
            {**self._row(job), "expected": current.version},
        )
        return changed == 1

    def _delete(self, job_ids: Sequence[str]) -> int:
        if not job_ids:
            return 0
        return self._db.execute("DELETE FROM jobs WHERE id = ANY(%s)", (list(job_ids),))

    def _ids_containing(self, needle: str, limit: int) -> list[str]:
        # An erasure, not a hot path: one scan inside the database, no index.
        rows = self._db.fetchall(
            f"SELECT id FROM jobs WHERE strpos(lower({_DOC}), lower(%s)) > 0 LIMIT %s",
            (needle, limit),
        )
        return [row[0] for row in rows]

    def page_sql(
        self, query: JobQuery, limit: int, position: tuple[datetime, str] | None,
        oldest_first: bool,
    ) -> tuple[str, list[Any]]:
        """One page of a listing as SQL and parameters (tests EXPLAIN it)."""
        clauses, params = filter_clauses(query, _DIALECT)
        if position:
            clauses.append(f"(created_at, id) {'>' if oldest_first else '<'} (%s, %s)")
            params.extend(position)
        where = where_sql(clauses)
        order = "ASC" if oldest_first else "DESC"
        return (
            f"SELECT id, created_at, {_DOC} FROM jobs {where}"
            f" ORDER BY created_at {order}, id {order} LIMIT %s",
            [*params, limit],
        )

    def _find(
        self, query: JobQuery, limit: int, after: tuple[str, str] | None, oldest_first: bool
    ) -> list[Job]:
        position = (_cursor_time(after[0]), after[1]) if after else None
        jobs: list[Job] = []
        # A quarantined row is skipped, so read on past it until the page is full.
        while len(jobs) < limit:
            wanted = limit - len(jobs)
            rows = self._db.fetchall(*self.page_sql(query, wanted, position, oldest_first))
            for job_id, created_at, doc in rows:
                job = job_from_json(doc, job_id=job_id)
                if job is not None:
                    jobs.append(job)
                position = (created_at, job_id)
            if len(rows) < wanted:
                break
        return jobs

    def count_sql(self, query: JobQuery, path: str | None = None) -> tuple[str, list[Any]]:
        """A count, or a count per value of ``path``, as SQL and parameters."""
        clauses, params = filter_clauses(query, _DIALECT)
        where = where_sql(clauses)
        if path is None:
            return f"SELECT COUNT(*) FROM jobs {where}", params
        value_params: list[Any]
        if path in _COLUMNS:
            value, value_params = path, []
        elif "." not in path:  # the expression the signature index is built on
            value, value_params = "doc ->> %s", [path]
        else:
            value, value_params = "doc #>> %s", [path.split(".")]
        return (f"SELECT {value} AS value, COUNT(*) FROM jobs {where} GROUP BY 1",
                [*value_params, *params])

    def count(self, query: JobQuery) -> int:
        (total,) = self._db.fetchone(*self.count_sql(query))
        return int(total)

    def finished_counts(self) -> dict[tuple[str, str], int]:
        rows = self._db.fetchall("SELECT kind, status, total FROM jobs_finished")
        return {(str(kind), str(status)): int(total) for kind, status, total in rows}

    def count_upto(self, query: JobQuery, cap: int) -> int:
        sql, params = self.count_sql(query)
        capped = sql.replace("SELECT COUNT(*) FROM jobs", "SELECT 1 FROM jobs", 1)
        (total,) = self._db.fetchone(
            f"SELECT COUNT(*) FROM ({capped} LIMIT %s) AS capped", [*params, cap]
        )
        return int(total)

    def count_by(self, query: JobQuery, path: str) -> dict[str | None, int]:
        rows = self._db.fetchall(*self.count_sql(query, path))
        return {None if value is None else str(value): int(n) for value, n in rows}

    def ping(self) -> None:
        self._db.fetchone("SELECT 1")

    def close(self) -> None:
        self._db.close()
