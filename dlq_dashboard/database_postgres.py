"""The dashboard's tables on PostgreSQL (``SLUICE_DATABASE_URL``): users, sessions, audit.

With them in PostgreSQL, several dashboard replicas serve one set of users: a session
started on one replica is valid on every other, and the audit log survives a rollout. The
dashboard's statements are plain SQL written once for both databases with ``?``
placeholders; :class:`PostgresDashboardDatabase` hands them to PostgreSQL with ``%s``
instead, on a pooled connection (SQLite's ``PRAGMA`` settings are skipped, and an ``instr``
function stands in for SQLite's). As in the SQLite file, a trigger refuses UPDATE and DELETE
on the audit table unless a permit row inside the same transaction allows the one kind of
change (the erasure's blanking, the retention sweep's deletion), and TRUNCATE always, so
append-only is a fact of the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import Connection, errors

from sluice.stores.postgres_db import PostgresConnections

# The "dashboard" owner's steps; append only. Times are fixed-width UTC text, as in the
# SQLite file, so both run the same statements.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX sessions_expiry ON sessions (expires_at);
    CREATE INDEX sessions_user ON sessions (user_name);
    CREATE TABLE audit (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        job_id TEXT,
        seconds_spent DOUBLE PRECISION,
        changes TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_job ON audit (job_id, action, seq);
    CREATE INDEX audit_at ON audit (at);
    -- Append-only, except through a permit that lives inside one transaction: the erasure
    -- of a person's data may blank entries, the retention sweep may delete old ones.
    CREATE TABLE audit_permits (purpose TEXT NOT NULL);
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE'
           AND EXISTS (SELECT 1 FROM audit_permits WHERE purpose = 'erasure') THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'DELETE'
           AND EXISTS (SELECT 1 FROM audit_permits WHERE purpose = 'retention') THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'the audit log is append-only';
    END $$;
    CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
    CREATE TABLE training_exclusions (
        job_id TEXT PRIMARY KEY,
        marked_by TEXT NOT NULL,
        marked_at TEXT NOT NULL
    );
    -- SQLite's instr(), so statements that search text run unchanged here
    CREATE FUNCTION instr(haystack TEXT, needle TEXT) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE AS $$ SELECT strpos(haystack, needle) $$;
    """,
)


def placeholders(sql: str) -> str:
    """``?`` -> ``%s``; the dashboard's SQL has no literal ``?`` or ``%`` to confuse this."""
    if "%" in sql:
        raise ValueError(f"a literal % in dashboard SQL would be read as a placeholder: {sql!r}")
    return sql.replace("?", "%s")


class Rows:
    """A statement's result, read whole before its connection went back to the pool."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._rowcount = rowcount

    @property
    def rowcount(self) -> int:
        return self._rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


def _run(connection: Connection[Any], sql: str, parameters: Sequence[Any]) -> Rows:
    if sql.lstrip().upper().startswith("PRAGMA"):
        # A SQLite file setting (secure_delete, ...): PostgreSQL has none to set per statement.
        return Rows([], 0)
    cursor = connection.execute(placeholders(sql), tuple(parameters))
    rows = cursor.fetchall() if cursor.description is not None else []
    return Rows(rows, cursor.rowcount)


class PooledStatements:
    """What ``get()`` gives: ``execute`` as on a sqlite3 connection, one pooled
    autocommit connection per statement."""

    IntegrityError: type[Exception] = errors.IntegrityError

    def __init__(self, database: PostgresConnections) -> None:
        self._database = database

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows:
        with self._database.connection() as connection:
            return _run(connection, sql, parameters)


class TransactionStatements:
    """``execute`` on the one connection of an open transaction."""

    IntegrityError: type[Exception] = errors.IntegrityError

    def __init__(self, connection: Connection[Any]) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows:
        return _run(self._connection, sql, parameters)


class PostgresDashboardDatabase:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._database = PostgresConnections(url, pool_size)
        self._database.migrate("dashboard", MIGRATIONS)
        self._statements = PooledStatements(self._database)

    def get(self) -> PooledStatements:
        return self._statements

    @contextmanager
    def transaction(self) -> Iterator[TransactionStatements]:
        """One transaction, as ``SQLiteConnections.transaction`` gives: COMMIT at the end,
        ROLLBACK on an exception."""
        with self._database.transaction() as connection:
            yield TransactionStatements(connection)

    def close(self) -> None:
        self._database.close()
