"""Schema migrations for a SQLite file with one owner: numbered steps and ``PRAGMA user_version``.

The file's ``user_version`` is the number of steps already applied. :func:`migrate` applies
the rest in order, inside one ``BEGIN IMMEDIATE`` transaction that re-reads the version
first, so two processes opening an old file at once migrate it exactly once, and a step
that fails leaves the file as it was. Steps are only ever appended: step N of a released
list never changes.

Files that several stores share (the job store's ``sluice.db``) keep idempotent
``CREATE ... IF NOT EXISTS`` schemas instead: one ``user_version`` cannot number the steps
of several independent owners.
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


def schema_version(connection: sqlite3.Connection) -> int:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    return int(version)


def migrate(connection: sqlite3.Connection, steps: Sequence[Step]) -> int:
    """Apply the steps past the file's ``user_version``; the version it ends at."""
    if schema_version(connection) == len(steps):  # the common case takes no write lock
        return len(steps)
    with transaction(connection):
        version = schema_version(connection)
        if version > len(steps):
            raise SchemaTooNew(
                f"schema version {version} is newer than this release knows ({len(steps)})"
            )
        for step in steps[version:]:
            if isinstance(step, str):
                connection.execute(step)
            else:
                step(connection)
        # PRAGMA takes no parameters; len() is an int, so formatting it in is safe.
        connection.execute(f"PRAGMA user_version = {len(steps)}")
    return len(steps)


__all__ = ["SchemaTooNew", "Step", "migrate", "schema_version"]
