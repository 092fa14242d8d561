"""The records collection: accepted records kept in the store, one per source job.

SQLite: a ``records`` table in the job store's file. PostgreSQL: a ``records`` table
(:mod:`libs.sinks.records_postgres`). MongoDB: a ``records`` collection in the same
database. Both insert by job id, so a second delivery of a record is a no-op.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from schemas.job import utcnow
from sluice.settings import Settings
from sluice.stores.base import format_time
from sluice.stores.sqlite_db import SQLiteConnections

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    job_id TEXT PRIMARY KEY,
    schema_name TEXT,
    schema_version INTEGER,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_schema ON records (schema_name, created_at);
CREATE INDEX IF NOT EXISTS records_created ON records (created_at);
"""


class RecordStore(ABC):
    @abstractmethod
    def put(
        self, job_id: str, schema_name: str | None, schema_version: int | None,
        record: dict[str, Any],
    ) -> bool:
        """Store the record; False if the job's record is there already."""

    @abstractmethod
    def get(self, job_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def erase_containing(self, needle: str) -> int:
        """Delete every record that mentions ``needle`` (any case); how many."""

    @abstractmethod
    def purge_before(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` records stored before the cutoff; how many."""

    @abstractmethod
    def close(self) -> None: ...


class SQLiteRecordStore(RecordStore):
    def __init__(self, settings: Settings) -> None:
        self._db = SQLiteConnections(settings.sqlite_path, SCHEMA)

    def put(
        self, job_id: str, schema_name: str | None, schema_version: int | None,
        record: dict[str, Any],
    ) -> bool:
        try:
            self._db.get().execute(
                "INSERT INTO records (job_id, schema_name, schema_version, created_at, record)"
                " VALUES (?, ?, ?, ?, ?)",
                (job_id, schema_name, schema_version, format_time(utcnow()), json.dumps(record)),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        row = self._db.get().execute(
            "SELECT job_id, schema_name, schema_version, created_at, record FROM records"
            " WHERE job_id = ?", (job_id,),
        ).fetchone()
        if row is None:
            return None
        return {"job_id": row[0], "schema_name": row[1], "schema_version": row[2],
                "created_at": row[3], "record": json.loads(row[4])}

    def count(self) -> int:
        (total,) = self._db.get().execute("SELECT COUNT(*) FROM records").fetchone()
        return int(total)

    def erase_containing(self, needle: str) -> int:
        connection = self._db.get()
        connection.execute("PRAGMA secure_delete = ON")  # overwrite the freed pages
        return connection.execute(
            "DELETE FROM records WHERE instr(lower(record), lower(?)) > 0", (needle,)
        ).rowcount

    def purge_before(self, created_before: datetime, limit: int) -> int:
        return self._db.get().execute(
            "DELETE FROM records WHERE job_id IN (SELECT job_id FROM records"
            " WHERE created_at < ? ORDER BY created_at LIMIT ?)",
            (format_time(created_before), limit),
        ).rowcount

    def close(self) -> None:
        self._db.close()


class MongoRecordStore(RecordStore):
    def __init__(self, settings: Settings) -> None:
        from sluice.stores.mongo_client import MongoClients

        assert settings.mongodb_url is not None
        self._clients = MongoClients(settings.mongodb_url.get_secret_value())
        self._database = settings.mongodb_database

    @property
    def _records(self) -> Any:
        return self._clients.collection(self._database, "records")

    def put(
        self, job_id: str, schema_name: str | None, schema_version: int | None,
        record: dict[str, Any],
    ) -> bool:
        from sluice.stores.bson_limits import refusals_as_unstorable

        created: datetime = utcnow()
        with refusals_as_unstorable(record, f"the record of job {job_id}"):
            result = self._records.update_one(
                {"_id": job_id},
                {"$setOnInsert": {"schema_name": schema_name, "schema_version": schema_version,
                                  "created_at": format_time(created), "record": record}},
                upsert=True,
            )
        return result.upserted_id is not None

    def get(self, job_id: str) -> dict[str, Any] | None:
        document = self._records.find_one({"_id": job_id})
        if document is None:
            return None
        document["job_id"] = document.pop("_id")
        return dict(document)

    def count(self) -> int:
        return int(self._records.count_documents({}))

    def erase_containing(self, needle: str) -> int:
        needle = needle.lower()
        doomed = [document["_id"] for document in self._records.find({}, {"record": 1})
                  if needle in json.dumps(document["record"]).lower()]
        if not doomed:
            return 0
        return int(self._records.delete_many({"_id": {"$in": doomed}}).deleted_count)

    def purge_before(self, created_before: datetime, limit: int) -> int:
        found = self._records.find(
            {"created_at": {"$lt": format_time(created_before)}}, {"_id": 1}
        ).sort("created_at", 1).limit(limit)
        doomed = [document["_id"] for document in found]
        if not doomed:
            return 0
        return int(self._records.delete_many({"_id": {"$in": doomed}}).deleted_count)

    def close(self) -> None:
        self._clients.close()


def open_records(settings: Settings) -> RecordStore:
    if settings.database_url is not None:
        from libs.sinks.records_postgres import PostgresRecordStore

        return PostgresRecordStore(
            settings.database_url.get_secret_value(), settings.database_pool_size
        )
    if settings.mongodb_url is not None:
        return MongoRecordStore(settings)
    return SQLiteRecordStore(settings)


_opened: dict[str, RecordStore] = {}
_lock = threading.Lock()


def records_for(settings: Settings) -> RecordStore:
    """The process's record store for these settings, opened once."""
    key = str(settings.sqlite_path) if settings.mongodb_url is None else settings.mongodb_database
    if settings.database_url is not None:
        key = settings.database_url.get_secret_value()
    with _lock:
        if key not in _opened:
            _opened[key] = open_records(settings)
        return _opened[key]
