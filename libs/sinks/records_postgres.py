"""The records collection on PostgreSQL (``SLUICE_DATABASE_URL``): a ``records`` table.

Inserted by job id with ``ON CONFLICT DO NOTHING``, so a second delivery of a record is a
no-op, as on SQLite and MongoDB (:mod:`libs.sinks.records`).
"""

from __future__ import annotations

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
    -- one schema's records in the order they came
    CREATE INDEX records_schema ON records (schema_name, created_at);
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

    def close(self) -> None:
        self._db.close()
