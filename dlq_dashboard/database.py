"""The dashboard's own tables: users, sessions, the audit log, "do not train" marks.

With ``SLUICE_DATABASE_URL`` they live in PostgreSQL (:mod:`dlq_dashboard.database_postgres`),
so several dashboard replicas share users, sessions and one audit trail. Otherwise they live
in one SQLite file (``SLUICE_DASHBOARD_DB_PATH``, default ``DATA_DIR/dashboard.db``) next to
the job store, even beside MongoDB: they are small, written by the dashboard alone, and a
reviewer's sign-in must not depend on MongoDB's health. The audit table refuses UPDATE and
DELETE at the database level, so append-only is a fact of the database, not a habit of the
code; the two exceptions (erasing a person's data, the retention sweep) need a permit row in
the same transaction and leave an entry saying what they did.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from sluice.settings import Settings
from sluice.stores.sqlite_db import SQLiteConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    job_id TEXT,
    seconds_spent REAL,
    changes TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_job ON audit (job_id, seq);
-- Append-only, except through a permit: the erasure of a person's data and the retention
-- sweep insert one in the same transaction as their change, then remove it, and write an
-- audit entry saying what they did (dlq_dashboard/erasure.py). Nothing else can.
CREATE TABLE IF NOT EXISTS audit_permits (purpose TEXT NOT NULL);
DROP TRIGGER IF EXISTS audit_no_update;
DROP TRIGGER IF EXISTS audit_no_delete;
CREATE TRIGGER IF NOT EXISTS audit_update_needs_permit BEFORE UPDATE ON audit
WHEN NOT EXISTS (SELECT 1 FROM audit_permits WHERE purpose = 'erasure')
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_delete_needs_permit BEFORE DELETE ON audit
WHEN NOT EXISTS (SELECT 1 FROM audit_permits WHERE purpose = 'retention')
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS training_exclusions (
    job_id TEXT PRIMARY KEY,
    marked_by TEXT NOT NULL,
    marked_at TEXT NOT NULL
);
"""


class Statements(Protocol):
    """A sqlite3 connection, or its PostgreSQL stand-in: ``execute`` with ``?`` placeholders."""

    @property
    def IntegrityError(self) -> type[Exception]: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


class DashboardDatabase(Protocol):
    def get(self) -> Statements: ...

    def transaction(self) -> AbstractContextManager[Statements]: ...

    def close(self) -> None: ...


def dashboard_db_path(settings: Settings) -> Path:
    return settings.dashboard_db_path or settings.data_dir / "dashboard.db"


def open_dashboard_db(settings: Settings) -> DashboardDatabase:
    if settings.database_url is not None:
        from dlq_dashboard.database_postgres import PostgresDashboardDatabase

        return PostgresDashboardDatabase(
            settings.database_url.get_secret_value(), settings.database_pool_size
        )
    return SQLiteConnections(dashboard_db_path(settings), SCHEMA)
