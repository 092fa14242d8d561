"""The embedding cache: vectors by sha256(model + text), so unchanged text is never re-embedded.

A SQLite file per worker machine (``DATA_DIR/embedding_cache.db``), separate from the job
store so that cache writes never contend with job bookkeeping. A lost cache costs only
recomputation; Qdrant stays the source of truth for what is indexed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sluice.stores.sqlite_db import SQLiteConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY,
    vector BLOB NOT NULL
);
"""
# SQLite's default limit on host parameters is 999 in old builds.
LOOKUP_BATCH = 500


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        self._db = SQLiteConnections(path, SCHEMA)

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
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        connection = self._db.get()
        connection.execute("BEGIN")
        try:
            connection.executemany(
                "INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)",
                [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def count(self) -> int:
        (total,) = self._db.get().execute("SELECT COUNT(*) FROM embeddings").fetchone()
        return int(total)

    def close(self) -> None:
        self._db.close()
