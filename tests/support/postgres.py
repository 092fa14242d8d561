"""A throwaway PostgreSQL database per test session, or a skip that says why there is none.

The server is ``SLUICE_TEST_DATABASE_URL`` (default: this machine's, trust auth, user
postgres); ``./test.sh`` starts it when it is not running. The database is created once per
session, dropped at its end, and emptied before each test that asks for it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("SLUICE_TEST_DATABASE_URL", DEFAULT_SERVER)


def unreachable_reason() -> str | None:
    """Why no PostgreSQL side can run here, or None when the server answers."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install 'sluice[postgres]'"
    try:
        with psycopg.connect(server_url(), connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        parts = urlsplit(server_url())  # host and port only: the URL may hold a password
        return (f"no PostgreSQL server answers at {parts.hostname}:{parts.port or 5432} "
                f"({type(exc).__name__}); start it (./test.sh does) or set "
                "SLUICE_TEST_DATABASE_URL")


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards (skips when there is no server)."""
    reason = unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    import psycopg

    name = f"sluice_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url(), name)
    finally:
        from sluice.stores.postgres_db import close_pools

        close_pools()
        with psycopg.connect(server_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty(url: str) -> None:
    """Remove every row of every table but the migrations' own, so each test starts clean
    without paying for a new database. The audit table refuses TRUNCATE; as its owner, the
    test switches that trigger off for the moment it empties it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        tables = [name for (name,) in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('schema_migrations', 'audit')"
        )]
        if tables:
            connection.execute(
                "TRUNCATE " + ", ".join(f'"{table}"' for table in tables) + " CASCADE"
            )
        exists = connection.execute("SELECT to_regclass('audit')").fetchone()
        if exists and exists[0] is not None:
            connection.execute("ALTER TABLE audit DISABLE TRIGGER audit_no_truncate")
            connection.execute("TRUNCATE audit RESTART IDENTITY")
            connection.execute("ALTER TABLE audit ENABLE TRIGGER audit_no_truncate")
