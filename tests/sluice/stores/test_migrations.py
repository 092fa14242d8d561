"""Numbered SQLite migrations: each step once, in order, all or nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sluice.stores.migrations import SchemaTooNew, migrate, schema_version

STEPS = (
    "CREATE TABLE things (id TEXT PRIMARY KEY)",
    "ALTER TABLE things ADD COLUMN size INTEGER NOT NULL DEFAULT 0",
)


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_a_new_file_gets_every_step_and_their_count_as_its_version(tmp_path: Path) -> None:
    connection = connect(tmp_path / "db")
    assert migrate(connection, STEPS) == 2
    assert schema_version(connection) == 2
    connection.execute("INSERT INTO things (id, size) VALUES ('a', 3)")


def test_a_file_of_the_old_shape_gets_only_the_missing_steps(tmp_path: Path) -> None:
    connection = connect(tmp_path / "db")
    migrate(connection, STEPS[:1])
    connection.execute("INSERT INTO things (id) VALUES ('old')")
    migrate(connection, STEPS)
    assert connection.execute("SELECT id, size FROM things").fetchall() == [("old", 0)]
    assert migrate(connection, STEPS) == 2  # again: nothing to do


def test_a_failing_step_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    connection = connect(tmp_path / "db")
    with pytest.raises(sqlite3.OperationalError):
        migrate(connection, (*STEPS, "ALTER TABLE nowhere ADD COLUMN x"))
    assert schema_version(connection) == 0
    assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_a_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    connection = connect(tmp_path / "db")
    migrate(connection, STEPS)
    with pytest.raises(SchemaTooNew):
        migrate(connection, STEPS[:1])


def test_a_schema_script_splits_into_its_statements() -> None:
    from sluice.stores.sqlite_db import statements

    script = """
    CREATE TABLE a (x TEXT DEFAULT 'semi;colon');
    CREATE INDEX a_x ON a (x);
    """
    assert statements(script) == ["CREATE TABLE a (x TEXT DEFAULT 'semi;colon');",
                                  "CREATE INDEX a_x ON a (x);"]
    with pytest.raises(ValueError, match="incomplete"):
        statements("CREATE TABLE b (x")


def test_owners_of_a_shared_file_count_their_steps_apart(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "shared.db", isolation_level=None)
    connection.execute("CREATE TABLE a (x)")
    connection.execute("CREATE TABLE b (y)")
    assert migrate(connection, ("ALTER TABLE a ADD COLUMN x2",), owner="a") == 1
    assert migrate(connection, ("ALTER TABLE b ADD COLUMN y2", "CREATE INDEX b_y ON b (y)"),
                   owner="b") == 2
    assert schema_version(connection, "a") == 1 and schema_version(connection, "b") == 2
    assert schema_version(connection) == 0  # the file's own number is left alone
    assert migrate(connection, ("ALTER TABLE a ADD COLUMN x2",), owner="a") == 1  # no-op


def test_a_job_store_file_made_before_tenants_is_migrated_once(tmp_path: Path) -> None:
    from sluice.stores.sqlite import MIGRATIONS, SQLiteJobStore

    path = tmp_path / "sluice.db"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,"
                " reason TEXT, idempotency_key TEXT UNIQUE, created_at TEXT NOT NULL,"
                " updated_at TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL)")
    old.close()
    SQLiteJobStore(path).close()
    SQLiteJobStore(path).close()  # a second open finds nothing to do
    check = sqlite3.connect(path)
    columns = {row[1] for row in check.execute("PRAGMA table_info(jobs)")}
    assert {"tenant", "wake_at"} <= columns
    assert schema_version(check, "jobs") == len(MIGRATIONS)
    # The columns the hot paths filter on came with the later steps.
    assert {"error_signature", "crawl_id", "batch_run"} <= {
        row[1] for row in check.execute("PRAGMA table_info(jobs)")}
