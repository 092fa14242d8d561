"""SQLite connections that are safe across threads and processes, and their transactions.

One connection per (process, thread), WAL journal, a generous busy timeout: readers never
block writers, and a forked Celery child never reuses its parent's connection. Connections
run in autocommit mode; :func:`transaction` is the one way a store groups statements (a
store's schema is applied in one, so a process that opens a fresh file never sees half of it).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sluice.private_files import PRIVATE_FILE, private_directory, private_file
from sluice.process_id import current_pid

BUSY_TIMEOUT_SECONDS = 30.0


@contextmanager
def transaction(
    connection: sqlite3.Connection, *, immediate: bool = True
) -> Iterator[sqlite3.Connection]:
    """Run the block as one transaction: COMMIT at the end, ROLLBACK on any exception.

    ``immediate`` takes SQLite's write lock at the start (``BEGIN IMMEDIATE``), so a
    read-modify-write cannot interleave with another writer's; a deferred transaction
    (``immediate=False``) takes it at the first write, for blocks that only write.
    """
    connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def statements(script: str) -> list[str]:
    """The complete SQL statements of ``script``, for running one by one in a transaction
    (``executescript`` would commit it half-way)."""
    found: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending.strip()!r}")
    return found


class SQLiteConnections:
    def __init__(
        self, path: Path, schema: str = "", on_connect: Callable[[], None] | None = None
    ) -> None:
        private_directory(path.parent)
        path.touch(mode=PRIVATE_FILE, exist_ok=True)
        private_file(path)
        self.path = path
        self._schema = schema
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._pid = current_pid()
        if schema:
            # Deferred: on a file that has the schema already, nothing takes the write lock.
            with self._lock, self.transaction(immediate=False) as connection:
                for statement in statements(schema):
                    connection.execute(statement)

    def get(self) -> sqlite3.Connection:
        if self._pid != current_pid():  # forked: the parent's connections are not ours
            self._local = threading.local()
            self._all = []
            self._pid = current_pid()
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            _enter_wal(connection)
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
            self._all.append(connection)
        return connection

    @contextmanager
    def transaction(self, *, immediate: bool = True) -> Iterator[sqlite3.Connection]:
        """:func:`transaction` on this thread's connection."""
        with transaction(self.get(), immediate=immediate) as connection:
            yield connection

    def close(self) -> None:
        for connection in self._all:
            connection.close()
        self._all = []
        self._local = threading.local()


def _enter_wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while another connection holds the file: SQLite answers a
    journal-mode switch that meets a lock with "database is locked" at once, without its
    busy handler, so two first opens of a new file (two threads of one worker) can race."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
