"""The embedding cache: vectors by sha256(model + text), so unchanged text is never re-embedded.

A SQLite file per worker machine (``DATA_DIR/embedding_cache.db``), separate from the job
store so that cache writes never contend with job bookkeeping. A lost cache costs only
recomputation; Qdrant stays the source of truth for what is indexed.

Bounded by ``SLUICE_EMBEDDING_CACHE_MAX_ENTRIES``: every hit and write stamps the entry
with a rising use number, and a write that takes the cache past the bound evicts the
least recently used entries down to 90% of it, so eviction runs once per many writes
instead of on each one.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sluice.stores.migrations import Step, migrate
from sluice.stores.sqlite_db import SQLiteConnections


def _add_use_stamps(connection: sqlite3.Connection) -> None:
    # Files from before the bound; some got the column ad hoc before migrations were numbered.
    columns = {row[1] for row in connection.execute("PRAGMA table_info(embeddings)")}
    if "used" not in columns:
        connection.execute("ALTER TABLE embeddings ADD COLUMN used INTEGER NOT NULL DEFAULT 0")
    connection.execute("CREATE INDEX IF NOT EXISTS embeddings_by_use ON embeddings (used)")


# The file's schema, one numbered step at a time (``PRAGMA user_version``); append only.
MIGRATIONS: tuple[Step, ...] = (
    "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)",
    _add_use_stamps,
)

# SQLite's default limit on host parameters is 999 in old builds.
LOOKUP_BATCH = 500
PRUNE_TO = 0.9


class EmbeddingCache:
    def __init__(self, path: Path, max_entries: int | None = None) -> None:
        self._db = SQLiteConnections(path)
        self.max_entries = max_entries
        migrate(self._db.get(), MIGRATIONS)
        # Use numbers rise across processes sharing the file: microseconds since the epoch,
        # made unique within this process by a counter.
        self._stamps = itertools.count(time.time_ns() // 1000)
        self._stamp_lock = threading.Lock()
        self._estimate = self.count()

    def _stamp(self) -> int:
        with self._stamp_lock:
            return max(next(self._stamps), time.time_ns() // 1000)

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        connection = self._db.get()
        for start in range(0, len(wanted), LOOKUP_BATCH):
            batch = wanted[start:start + LOOKUP_BATCH]
            rows = connection.execute(
                f"SELECT key, vector FROM embeddings WHERE key IN ({','.join('?' * len(batch))})",
                batch,
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        if found and self.max_entries is not None:
            stamp = self._stamp()
            self._write("UPDATE embeddings SET used = ? WHERE key = ?",
                        [(stamp, key) for key in found])
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        stamp = self._stamp()
        self._write(
            "INSERT OR REPLACE INTO embeddings (key, vector, used) VALUES (?, ?, ?)",
            [(key, np.asarray(v, dtype=np.float32).tobytes(), stamp) for key, v in items.items()],
        )
        self._estimate += len(items)
        if self.max_entries is not None and self._estimate > self.max_entries:
            self.evict()

    def _write(self, statement: str, rows: list[tuple[object, ...]]) -> None:
        with self._db.transaction(immediate=False) as connection:
            connection.executemany(statement, rows)

    def evict(self) -> int:
        """Drop the least recently used entries down to 90% of the bound; how many went."""
        if self.max_entries is None:
            return 0
        connection = self._db.get()
        total = self.count()
        keep = int(self.max_entries * PRUNE_TO)
        evicted = 0
        if total > self.max_entries:
            cursor = connection.execute(
                "DELETE FROM embeddings WHERE key IN "
                "(SELECT key FROM embeddings ORDER BY used LIMIT ?)", (total - keep,),
            )
            evicted = cursor.rowcount
        self._estimate = total - evicted
        return evicted

    def count(self) -> int:
        (total,) = self._db.get().execute("SELECT COUNT(*) FROM embeddings").fetchone()
        return int(total)

    def close(self) -> None:
        self._db.close()
