"""Producer state on PostgreSQL (``SLUICE_DATABASE_URL``): the ``producer_state`` table.

Versioned JSONB documents by (namespace, key), like the SQLite and MongoDB backends in
:mod:`producers.state_store`; compare-and-set is ``UPDATE ... WHERE version = ...``.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg.types.json import Jsonb

from producers.state_store import StateRecord, StateStore
from schemas.job import utcnow
from sluice.stores.postgres_db import PostgresConnections

# The "producer_state" owner's steps; append only.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE producer_state (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        doc JSONB NOT NULL,
        PRIMARY KEY (namespace, key)
    );
    -- a namespace's records, most recently updated first
    CREATE INDEX producer_state_updated ON producer_state (namespace, updated_at);
    """,
)


def _doc(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(json.loads(value))


class PostgresStateStore(StateStore):
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._db = PostgresConnections(url, pool_size)
        self._db.migrate("producer_state", MIGRATIONS)

    def get(self, namespace: str, key: str) -> StateRecord | None:
        row = self._db.fetchone(
            "SELECT version, doc FROM producer_state WHERE namespace = %s AND key = %s",
            (namespace, key),
        )
        return StateRecord(key, int(row[0]), _doc(row[1])) if row else None

    def put(self, namespace: str, key: str, doc: dict[str, Any]) -> StateRecord:
        row = self._db.fetchone(
            "INSERT INTO producer_state (namespace, key, version, updated_at, doc)"
            " VALUES (%s, %s, 1, %s, %s) ON CONFLICT (namespace, key) DO UPDATE SET"
            " version = producer_state.version + 1, updated_at = excluded.updated_at,"
            " doc = excluded.doc RETURNING version",
            (namespace, key, utcnow(), Jsonb(doc)),
        )
        return StateRecord(key, int(row[0]), doc)

    def insert(self, namespace: str, key: str, doc: dict[str, Any]) -> bool:
        return self._db.execute(
            "INSERT INTO producer_state (namespace, key, version, updated_at, doc)"
            " VALUES (%s, %s, 1, %s, %s) ON CONFLICT (namespace, key) DO NOTHING",
            (namespace, key, utcnow(), Jsonb(doc)),
        ) == 1

    def replace(
        self, namespace: str, key: str, doc: dict[str, Any], expected_version: int
    ) -> bool:
        return self._db.execute(
            "UPDATE producer_state SET version = version + 1, updated_at = %s, doc = %s"
            " WHERE namespace = %s AND key = %s AND version = %s",
            (utcnow(), Jsonb(doc), namespace, key, expected_version),
        ) == 1

    def delete(self, namespace: str, key: str) -> bool:
        return self._db.execute(
            "DELETE FROM producer_state WHERE namespace = %s AND key = %s", (namespace, key)
        ) == 1

    def list(self, namespace: str, limit: int = 100) -> list[StateRecord]:
        rows = self._db.fetchall(
            "SELECT key, version, doc FROM producer_state WHERE namespace = %s"
            " ORDER BY updated_at DESC LIMIT %s",
            (namespace, limit),
        )
        return [StateRecord(key, int(version), _doc(doc)) for key, version, doc in rows]

    def close(self) -> None:
        self._db.close()
