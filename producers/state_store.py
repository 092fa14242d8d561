"""Where producers keep what they must remember across restarts.

IMAP checkpoints (UIDVALIDITY + last UID), the CDC resume token, a crawled page's
validators (ETag, Last-Modified, outgoing links) and batch run records are small JSON
documents addressed by (namespace, key). Each carries a version so that a writer can
compare-and-set; the backend follows the job store's (SQLite by default, PostgreSQL when
``SLUICE_DATABASE_URL`` is set (:mod:`producers.state_store_postgres`), MongoDB when
``SLUICE_MONGODB_URL`` is), so a producer restarted on another machine finds its
state where the jobs are.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.job import utcnow
from sluice.settings import Settings
from sluice.stores.base import format_time
from sluice.stores.cas import MAX_CAS_ATTEMPTS, ConcurrentUpdate, compare_and_set

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS producer_state (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS producer_state_updated ON producer_state (namespace, updated_at);
"""


@dataclass(frozen=True)
class StateRecord:
    key: str
    version: int
    doc: dict[str, Any]


class StateStore(ABC):
    @abstractmethod
    def get(self, namespace: str, key: str) -> StateRecord | None: ...

    @abstractmethod
    def put(self, namespace: str, key: str, doc: dict[str, Any]) -> StateRecord:
        """Write unconditionally (last writer wins)."""

    @abstractmethod
    def insert(self, namespace: str, key: str, doc: dict[str, Any]) -> bool:
        """Write only if absent; False when the key exists."""

    @abstractmethod
    def replace(
        self, namespace: str, key: str, doc: dict[str, Any], expected_version: int
    ) -> bool:
        """Write only if the stored version is still ``expected_version``."""

    @abstractmethod
    def delete(self, namespace: str, key: str) -> bool: ...

    @abstractmethod
    def list(self, namespace: str, limit: int = 100) -> list[StateRecord]:
        """Most recently updated first."""

    @abstractmethod
    def close(self) -> None: ...

    def update(
        self,
        namespace: str,
        key: str,
        change: Callable[[StateRecord | None], dict[str, Any] | None],
        *,
        conflict: Callable[[str], Exception] = ConcurrentUpdate,
        attempts: int = MAX_CAS_ATTEMPTS,
    ) -> StateRecord | None:
        """Compare-and-set one record (:mod:`sluice.stores.cas`).

        ``change`` sees the stored record (None: absent) and returns the new document, or
        None to leave it; it may run more than once when writers race. An absent record is
        inserted, a present one replaced on its version. Returns what is stored now.
        """

        def write(current: StateRecord | None, doc: dict[str, Any]) -> bool:
            if current is None:
                return self.insert(namespace, key, doc)
            return self.replace(namespace, key, doc, current.version)

        swap = compare_and_set(
            lambda: self.get(namespace, key), change, write,
            what=f"state {namespace}/{key}", attempts=attempts, conflict=conflict,
        )
        if swap.written is None:
            return swap.current
        version = swap.current.version + 1 if swap.current is not None else 1
        return StateRecord(key, version, swap.written)


class SQLiteStateStore(StateStore):
    def __init__(self, path: Path) -> None:
        from sluice.stores.sqlite_db import SQLiteConnections

        self._db = SQLiteConnections(path, SQLITE_SCHEMA)

    def get(self, namespace: str, key: str) -> StateRecord | None:
        row = (
            self._db.get()
            .execute(
                "SELECT version, doc FROM producer_state WHERE namespace = ? AND key = ?",
                (namespace, key),
            )
            .fetchone()
        )
        return StateRecord(key, int(row[0]), json.loads(row[1])) if row else None

    def put(self, namespace: str, key: str, doc: dict[str, Any]) -> StateRecord:
        row = (
            self._db.get()
            .execute(
                "INSERT INTO producer_state (namespace, key, version, updated_at, doc)"
                " VALUES (?, ?, 1, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET"
                " version = version + 1, updated_at = excluded.updated_at, doc = excluded.doc"
                " RETURNING version",
                (namespace, key, format_time(utcnow()), json.dumps(doc)),
            )
            .fetchone()
        )
        return StateRecord(key, int(row[0]), doc)

    def insert(self, namespace: str, key: str, doc: dict[str, Any]) -> bool:
        cursor = self._db.get().execute(
            "INSERT INTO producer_state (namespace, key, version, updated_at, doc)"
            " VALUES (?, ?, 1, ?, ?) ON CONFLICT (namespace, key) DO NOTHING",
            (namespace, key, format_time(utcnow()), json.dumps(doc)),
        )
        return cursor.rowcount == 1

    def replace(
        self, namespace: str, key: str, doc: dict[str, Any], expected_version: int
    ) -> bool:
        cursor = self._db.get().execute(
            "UPDATE producer_state SET version = version + 1, updated_at = ?, doc = ?"
            " WHERE namespace = ? AND key = ? AND version = ?",
            (format_time(utcnow()), json.dumps(doc), namespace, key, expected_version),
        )
        return cursor.rowcount == 1

    def delete(self, namespace: str, key: str) -> bool:
        cursor = self._db.get().execute(
            "DELETE FROM producer_state WHERE namespace = ? AND key = ?", (namespace, key)
        )
        return cursor.rowcount == 1

    def list(self, namespace: str, limit: int = 100) -> list[StateRecord]:
        rows = self._db.get().execute(
            "SELECT key, version, doc FROM producer_state WHERE namespace = ?"
            " ORDER BY updated_at DESC LIMIT ?",
            (namespace, limit),
        )
        return [StateRecord(key, int(version), json.loads(doc)) for key, version, doc in rows]

    def close(self) -> None:
        self._db.close()


class MongoStateStore(StateStore):
    def __init__(self, url: str, database: str, collection: str = "producer_state") -> None:
        from sluice.stores.mongo_client import MongoClients

        self._clients = MongoClients(url)
        self._database = database
        self._collection = collection

    def _records(self) -> Any:
        from pymongo.operations import IndexModel

        from sluice.stores.mongo_client import ensure_indexes

        records = self._clients.collection(self._database, self._collection)
        ensure_indexes(records, self._clients.url,
                       [IndexModel([("namespace", 1), ("updated_at", -1)])])
        return records

    @staticmethod
    def _id(namespace: str, key: str) -> str:
        return f"{namespace}\x1f{key}"

    def get(self, namespace: str, key: str) -> StateRecord | None:
        found = self._records().find_one({"_id": self._id(namespace, key)})
        return StateRecord(key, int(found["version"]), found["doc"]) if found else None

    def put(self, namespace: str, key: str, doc: dict[str, Any]) -> StateRecord:
        from pymongo import ReturnDocument

        stored = self._records().find_one_and_update(
            {"_id": self._id(namespace, key)},
            {
                "$set": {"namespace": namespace, "key": key, "doc": doc, "updated_at": utcnow()},
                "$inc": {"version": 1},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return StateRecord(key, int(stored["version"]), doc)

    def insert(self, namespace: str, key: str, doc: dict[str, Any]) -> bool:
        from pymongo.errors import DuplicateKeyError

        try:
            self._records().insert_one(
                {"_id": self._id(namespace, key), "namespace": namespace, "key": key,
                 "version": 1, "doc": doc, "updated_at": utcnow()}
            )
        except DuplicateKeyError:
            return False
        return True

    def replace(
        self, namespace: str, key: str, doc: dict[str, Any], expected_version: int
    ) -> bool:
        result = self._records().update_one(
            {"_id": self._id(namespace, key), "version": expected_version},
            {"$set": {"doc": doc, "updated_at": utcnow()}, "$inc": {"version": 1}},
        )
        from sluice.stores.mongo import write_won

        return write_won(result)

    def delete(self, namespace: str, key: str) -> bool:
        return bool(self._records().delete_one({"_id": self._id(namespace, key)}).deleted_count)

    def list(self, namespace: str, limit: int = 100) -> list[StateRecord]:
        found = self._records().find({"namespace": namespace}).sort("updated_at", -1).limit(limit)
        return [StateRecord(item["key"], int(item["version"]), item["doc"]) for item in found]

    def close(self) -> None:
        self._clients.close()


_lock = threading.Lock()
_opened: dict[tuple[str, str, str], StateStore] = {}


def open_state_store(settings: Settings) -> StateStore:
    """The state store next to the job store of ``settings``."""
    if settings.database_url is not None:
        from producers.state_store_postgres import PostgresStateStore

        return PostgresStateStore(
            settings.database_url.get_secret_value(), settings.database_pool_size
        )
    if settings.mongodb_url is not None:
        return MongoStateStore(settings.mongodb_url.get_secret_value(), settings.mongodb_database)
    return SQLiteStateStore(settings.sqlite_path)


def shared_state_store(settings: Settings) -> StateStore:
    """One state store per configuration and process, for task code that runs often."""
    identity = (
        settings.mongodb_url.get_secret_value() if settings.mongodb_url else "",
        settings.database_url.get_secret_value() if settings.database_url else "",
        str(settings.sqlite_path.resolve()),
    )
    with _lock:
        if identity not in _opened:
            _opened[identity] = open_state_store(settings)
        return _opened[identity]
