"""The production job store: a MongoDB collection through PyMongo (Motor is end of life)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from schemas.job import Job
from schemas.principal import DEFAULT_TENANT
from sluice.stores.base import JobNotFound, JobQuery, JobStore, format_time
from sluice.stores.quarantine import UnreadableJob, job_from_document

SERVER_SELECTION_TIMEOUT_MS = 5000


class MongoClients:
    """One client per process: PyMongo clients must not cross a fork."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._client: MongoClient[dict[str, Any]] | None = None
        self._pid = os.getpid()

    def get(self) -> MongoClient[dict[str, Any]]:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = MongoClient(
                    self._url, serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS, tz_aware=True
                )
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _to_document(job: Job) -> dict[str, Any]:
    document = job.model_dump(mode="json")
    document["_id"] = document.pop("id")
    # Fixed-width text keeps microseconds and sorts as time, like the SQLite store.
    document["created_at"] = format_time(job.created_at)
    document["updated_at"] = format_time(job.updated_at)
    # When the due sweep must look at the job (Job.wake_at), indexed; absent when never.
    if job.wake_at is not None:
        document["wake_at"] = format_time(job.wake_at)
    if document.get("idempotency_key") is None:
        document.pop("idempotency_key", None)
    return document


def _from_document(document: dict[str, Any]) -> Job | None:
    document = dict(document)
    document["id"] = document.pop("_id")
    document.pop("wake_at", None)  # derived from the job (Job.wake_at)
    return job_from_document(document, job_id=str(document["id"]))


class MongoJobStore(JobStore):
    def __init__(self, url: str, database: str, collection: str = "jobs") -> None:
        self._clients = MongoClients(url)
        self._database = database
        self._collection_name = collection
        self._ensure_indexes()

    @property
    def _jobs(self) -> Collection[dict[str, Any]]:
        return self._clients.get()[self._database][self._collection_name]

    def _ensure_indexes(self) -> None:
        self._jobs.create_index("idempotency_key", unique=True, sparse=True)
        self._jobs.create_index([("created_at", ASCENDING), ("_id", ASCENDING)])
        self._jobs.create_index([("status", ASCENDING), ("created_at", ASCENDING)])
        self._jobs.create_index([("kind", ASCENDING), ("created_at", ASCENDING)])
        self._jobs.create_index([("tenant", ASCENDING), ("created_at", ASCENDING)])
        self._jobs.create_index("wake_at", sparse=True)

    def _insert(self, job: Job) -> bool:
        try:
            self._jobs.insert_one(_to_document(job))
        except DuplicateKeyError as exc:
            if "idempotency_key" in str(exc):
                return False
            raise
        return True

    def get(self, job_id: str) -> Job:
        document = self._jobs.find_one({"_id": job_id})
        if document is None:
            raise JobNotFound(job_id)
        job = _from_document(document)
        if job is None:
            raise UnreadableJob(job_id)
        return job

    def get_by_idempotency_key(self, key: str) -> Job | None:
        document = self._jobs.find_one({"idempotency_key": key})
        return _from_document(document) if document else None

    def _replace(self, job: Job, expected_version: int) -> bool:
        result = self._jobs.replace_one(
            {"_id": job.id, "version": expected_version}, _to_document(job)
        )
        return result.modified_count == 1

    def _delete(self, job_ids: Sequence[str]) -> int:
        if not job_ids:
            return 0
        return int(self._jobs.delete_many({"_id": {"$in": list(job_ids)}}).deleted_count)

    def _filter(self, query: JobQuery) -> dict[str, Any]:
        conditions: dict[str, Any] = {}
        if query.statuses:
            conditions["status"] = {"$in": [status.value for status in query.statuses]}
        if query.kind:
            conditions["kind"] = query.kind
        if query.reason:
            conditions["reason"] = query.reason.value
        if query.tenant:
            # Jobs stored before tenants existed have no field: the default tenant's.
            conditions["tenant"] = (
                {"$in": [query.tenant, None]} if query.tenant == DEFAULT_TENANT else query.tenant
            )
        for path, value in query.fields:
            conditions[path] = value
        created: dict[str, str] = {}
        if query.created_before:
            created["$lt"] = format_time(query.created_before)
        if query.created_after:
            created["$gt"] = format_time(query.created_after)
        if created:
            conditions["created_at"] = created
        if query.updated_before:
            conditions["updated_at"] = {"$lt": format_time(query.updated_before)}
        if query.wake_before:
            conditions["wake_at"] = {"$lte": format_time(query.wake_before)}
        return conditions

    def _find(
        self, query: JobQuery, limit: int, after: tuple[str, str] | None, oldest_first: bool
    ) -> list[Job]:
        base = self._filter(query)
        direction = ASCENDING if oldest_first else DESCENDING
        op = "$gt" if oldest_first else "$lt"
        jobs: list[Job] = []
        # A quarantined document is skipped, so read on past it until the page is full.
        while len(jobs) < limit:
            conditions = base
            if after:
                created, job_id = after
                page = {"$or": [{"created_at": {op: created}},
                                {"created_at": created, "_id": {op: job_id}}]}
                conditions = {"$and": [base, page]} if base else page
            wanted = limit - len(jobs)
            documents = list(
                self._jobs.find(conditions)
                .sort([("created_at", direction), ("_id", direction)])
                .limit(wanted)
            )
            for document in documents:
                job = _from_document(document)
                if job is not None:
                    jobs.append(job)
                after = (str(document["created_at"]), str(document["_id"]))
            if len(documents) < wanted:
                break
        return jobs

    def count(self, query: JobQuery) -> int:
        return self._jobs.count_documents(self._filter(query))

    def count_upto(self, query: JobQuery, cap: int) -> int:
        return self._jobs.count_documents(self._filter(query), limit=cap)

    def count_by(self, query: JobQuery, path: str) -> dict[str | None, int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": self._filter(query)},
            {"$group": {"_id": f"${path}", "n": {"$sum": 1}}},
        ]
        return {
            None if row["_id"] is None else str(row["_id"]): int(row["n"])
            for row in self._jobs.aggregate(pipeline)
        }

    def ping(self) -> None:
        self._clients.get().admin.command("ping")

    def close(self) -> None:
        self._clients.close()
