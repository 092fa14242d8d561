"""Schema migrations for SQLite files: numbered steps, applied once, in order.

A file with one owner (the embedding cache) counts the steps applied in ``PRAGMA
user_version``. A file several stores share (``sluice.db``: jobs, documents, producer
state, records) cannot number their independent steps in one integer, so each owner has a
row in the file's ``schema_migrations`` table instead (:func:`migrate` with ``owner``).
Either way the steps past the recorded version run inside one ``BEGIN IMMEDIATE``
transaction that re-reads the version first, so two processes opening an old file at once
migrate it exactly once, and a step that fails leaves the file as it was. Steps are only
ever appended: step N of a released list never changes. A store's ``CREATE ... IF NOT
EXISTS`` schema is its current shape; its steps bring an older file to that shape.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from sluice.stores.sqlite_db import transaction

# One SQL statement, or a function for a step that must look before it changes (a column
# that an older release may have added already). Not scripts: ``executescript`` would
# commit the migration's transaction half-way.
Step = str | Callable[[sqlite3.Connection], None]


class SchemaTooNew(RuntimeError):
    """The file was migrated by a newer release than this one."""


OWNERS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (owner TEXT PRIMARY KEY, version INTEGER)"
)


def schema_version(connection: sqlite3.Connection, owner: str | None = None) -> int:
    """Steps applied: the file's ``user_version``, or ``owner``'s row (0 when none)."""
    if owner is None:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        return int(version)
    try:
        row = connection.execute(
            "SELECT version FROM schema_migrations WHERE owner = ?", (owner,)
        ).fetchone()
    except sqlite3.OperationalError:  # no table yet: nothing migrated in this file
        return 0
    return int(row[0]) if row else 0


def migrate(
    connection: sqlite3.Connection, steps: Sequence[Step], *, owner: str | None = None
) -> int:
    """Apply the steps past the recorded version (the file's, or ``owner``'s in a shared
    file); the version it ends at."""
    if schema_version(connection, owner) == len(steps):  # the common case: no write lock
        return len(steps)
    with transaction(connection):
        version = schema_version(connection, owner)
        if version > len(steps):
            raise SchemaTooNew(
                f"schema version {version} is newer than this release knows ({len(steps)})"
            )
        for step in steps[version:]:
            if isinstance(step, str):
                connection.execute(step)
            else:
                step(connection)
        if owner is None:
            # PRAGMA takes no parameters; len() is an int, so formatting it in is safe.
            connection.execute(f"PRAGMA user_version = {len(steps)}")
        else:
            connection.execute(OWNERS_TABLE)
            connection.execute(
                "INSERT INTO schema_migrations (owner, version) VALUES (?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET version = excluded.version",
                (owner, len(steps)),
            )
    return len(steps)


__all__ = ["SchemaTooNew", "Step", "migrate", "schema_version"]
