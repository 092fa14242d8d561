"""PostgreSQL connections for every store: one pool per (process, URL), and migrations.

Each store (jobs, documents, producer state, records, the dashboard) borrows autocommit
connections from the pool its URL shares in this process, so a worker holds at most
``SLUICE_DATABASE_POOL_SIZE`` connections whatever it opens. A forked Celery child never
uses its parent's pool: it opens its own and keeps the inherited one referenced but
untouched, because closing an inherited connection would end the parent's session on the
shared socket.

Migrations follow :mod:`sluice.stores.migrations`: numbered steps per owner, counted in a
``schema_migrations`` row, appended only. Steps past the recorded version run in one
transaction under an advisory lock, so two processes opening an old database at once
migrate it exactly once, and a failing step (PostgreSQL's DDL is transactional) leaves
the database as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg import Connection
from psycopg.rows import TupleRow
from psycopg_pool import ConnectionPool

from sluice.process_id import current_pid
from sluice.stores.migrations import SchemaTooNew

# How long a caller waits for a free connection before the pool says so.
POOL_TIMEOUT_SECONDS = 30.0

OWNERS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (owner TEXT PRIMARY KEY, version INTEGER"
    " NOT NULL)"
)

_lock = threading.Lock()
_pools: dict[tuple[int, str], ConnectionPool[Connection[TupleRow]]] = {}
# Pools a forked child inherited: kept alive so that no finaliser closes the parent's sockets.
_inherited: list[ConnectionPool[Connection[TupleRow]]] = []


def pool_for(url: str, size: int = 10) -> ConnectionPool[Connection[TupleRow]]:
    """This process's pool for ``url`` (opened on first use; ``size`` counts then)."""
    key = (current_pid(), url)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            for (pid, other_url), other in list(_pools.items()):
                if pid != current_pid():
                    _inherited.append(other)
                    del _pools[(pid, other_url)]
            pool = ConnectionPool(
                url, min_size=1, max_size=size, kwargs={"autocommit": True},
                timeout=POOL_TIMEOUT_SECONDS, open=True, name="sluice",
            )
            _pools[key] = pool
        return pool


def close_pools() -> None:
    """Close this process's pools (tests and a clean shutdown)."""
    with _lock:
        for (pid, url), pool in list(_pools.items()):
            if pid == current_pid():
                pool.close()
                del _pools[(pid, url)]


class PostgresConnections:
    """What a store holds: the shared pool of its URL, and the few ways it uses it."""

    def __init__(self, url: str, size: int = 10) -> None:
        self.url = url
        self._size = size

    @property
    def pool(self) -> ConnectionPool[Connection[TupleRow]]:
        return pool_for(self.url, self._size)

    @contextmanager
    def connection(self) -> Iterator[Connection[TupleRow]]:
        with self.pool.connection() as connection:
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[Connection[TupleRow]]:
        """One transaction on one connection: COMMIT at the end, ROLLBACK on an exception."""
        with self.pool.connection() as connection, connection.transaction():
            yield connection

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one statement; the rows it changed."""
        with self.pool.connection() as connection:
            return connection.execute(sql, params).rowcount

    def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        with self.pool.connection() as connection:
            return connection.execute(sql, params).fetchone()

    def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with self.pool.connection() as connection:
            return connection.execute(sql, params).fetchall()

    def migrate(self, owner: str, steps: Sequence[str]) -> int:
        return migrate(self, owner, steps)

    def close(self) -> None:
        """Nothing to release per store: the pool outlives it (:func:`close_pools`)."""


def schema_version(connection: Connection[TupleRow], owner: str) -> int:
    exists = connection.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if exists is None or exists[0] is None:
        return 0
    row = connection.execute(
        "SELECT version FROM schema_migrations WHERE owner = %s", (owner,)
    ).fetchone()
    return int(row[0]) if row else 0


def migrate(database: PostgresConnections, owner: str, steps: Sequence[str]) -> int:
    """Apply ``owner``'s steps past its recorded version; the version it ends at."""
    with database.connection() as connection:
        if schema_version(connection, owner) == len(steps):  # the common case: no lock
            return len(steps)
        with connection.transaction():
            # One migrator at a time, across processes and hosts (owners share the table).
            connection.execute("SELECT pg_advisory_xact_lock(hashtext('sluice.migrations'))")
            connection.execute(OWNERS_TABLE)
            version = schema_version(connection, owner)
            if version > len(steps):
                raise SchemaTooNew(
                    f"{owner}: schema version {version} is newer than this release knows"
                    f" ({len(steps)})"
                )
            for step in steps[version:]:
                connection.execute(step)
            connection.execute(
                "INSERT INTO schema_migrations (owner, version) VALUES (%s, %s)"
                " ON CONFLICT (owner) DO UPDATE SET version = excluded.version",
                (owner, len(steps)),
            )
    return len(steps)


__all__ = ["PostgresConnections", "close_pools", "migrate", "pool_for", "schema_version"]
