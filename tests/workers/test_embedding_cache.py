"""The embedding cache stays within its bound and keeps what is used."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from workers.embedding.cache import EmbeddingCache


def vectors(*keys: str) -> dict[str, np.ndarray]:
    return {key: np.full(4, float(i), dtype=np.float32) for i, key in enumerate(keys)}


def test_past_the_bound_the_least_recently_used_entries_go(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.db", max_entries=10)
    cache.put_many(vectors(*(f"old{i}" for i in range(10))))
    assert cache.count() == 10
    # Reading two of the oldest makes them recent.
    assert set(cache.get_many(["old0", "old1"])) == {"old0", "old1"}

    cache.put_many(vectors("new0", "new1"))

    assert cache.count() == 9  # down to 90% of the bound, not just under it
    kept = set(cache.get_many([f"old{i}" for i in range(10)] + ["new0", "new1"]))
    assert {"old0", "old1", "new0", "new1"} <= kept
    assert not {"old2", "old3", "old4"} & kept
    np.testing.assert_array_equal(cache.get_many(["new1"])["new1"], np.full(4, 1.0))


def test_without_a_bound_nothing_is_evicted(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "cache.db", max_entries=None)
    cache.put_many(vectors(*(f"k{i}" for i in range(50))))
    assert cache.evict() == 0
    assert cache.count() == 50


def test_a_cache_file_from_before_the_bound_is_kept_and_bounded(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        old.executemany("INSERT INTO embeddings VALUES (?, ?)",
                        [(f"k{i}", np.zeros(4, np.float32).tobytes()) for i in range(12)])
    cache = EmbeddingCache(path, max_entries=10)
    assert len(cache.get_many(["k0", "k11"])) == 2
    cache.put_many(vectors("fresh"))
    assert cache.count() == 9
    assert set(cache.get_many(["k0", "k11", "fresh"])) == {"k0", "k11", "fresh"}


def test_an_old_cache_file_is_migrated_to_the_numbered_schema(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
    EmbeddingCache(path).close()
    with sqlite3.connect(path) as migrated:
        (version,) = migrated.execute("PRAGMA user_version").fetchone()
        columns = {row[1] for row in migrated.execute("PRAGMA table_info(embeddings)")}
    assert version == 2
    assert "used" in columns


def test_a_file_that_got_its_column_ad_hoc_migrates_without_a_second_one(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL,"
                    " used INTEGER NOT NULL DEFAULT 0)")
    cache = EmbeddingCache(path, max_entries=10)
    cache.put_many(vectors("a"))
    assert cache.count() == 1
