"""The records collection on PostgreSQL (``SLUICE_DATABASE_URL``): a ``records`` table.

Inserted by job id with ``ON CONFLICT DO NOTHING``, so a second delivery of a record is a
no-op, as on SQLite and MongoDB (:mod:`libs.sinks.records`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from libs.sinks.records import RecordStore
from schemas.job import utcnow
from sluice.stores.base import format_time
from sluice.stores.postgres_db import PostgresConnections

# The "records" owner's steps; append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE records (
        job_id TEXT PRIMARY KEY,
        schema_name TEXT,
        schema_version INTEGER,
        created_at TIMESTAMPTZ NOT NULL,
        record JSONB NOT NULL
    );
    -- one schema's records in the order they came; every record by age (retention)
    CREATE INDEX records_schema ON records (schema_name, created_at);
    CREATE INDEX records_created ON records (created_at);
    """,
)


class PostgresRecordStore(RecordStore):
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._db = PostgresConnections(url, pool_size)
        self._db.migrate("records", MIGRATIONS)

    def put(
        self, job_id: str, schema_name: str | None, schema_version: int | None,
        record: dict[str, Any],
    ) -> bool:
        return self._db.execute(
            "INSERT INTO records (job_id, schema_name, schema_version, created_at, record)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (job_id) DO NOTHING",
            (job_id, schema_name, schema_version, utcnow(), Jsonb(record)),
        ) == 1

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self._db.fetchone(
            "SELECT job_id, schema_name, schema_version, created_at, record FROM records"
            " WHERE job_id = %s", (job_id,),
        )
        if row is None:
            return None
        return {"job_id": row[0], "schema_name": row[1], "schema_version": row[2],
                "created_at": format_time(row[3]), "record": row[4]}

    def count(self) -> int:
        (total,) = self._db.fetchone("SELECT COUNT(*) FROM records")
        return int(total)

    def erase_containing(self, needle: str) -> int:
        """Delete every record that mentions ``needle`` (any case); how many."""
        return self._db.execute(
            "DELETE FROM records WHERE strpos(lower(record::text), lower(%s)) > 0", (needle,)
        )

    def purge_before(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` records stored before the cutoff; how many."""
        return self._db.execute(
            "DELETE FROM records WHERE job_id IN (SELECT job_id FROM records"
            " WHERE created_at < %s ORDER BY created_at LIMIT %s)", (created_before, limit),
        )

    def close(self) -> None:
        self._db.close()
