"""The production job store: a MongoDB collection through PyMongo (Motor is end of life)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError
from pymongo.operations import IndexModel
from pymongo.results import UpdateResult

from schemas.job import Job
from schemas.principal import DEFAULT_TENANT
from sluice.stores import mongo_hot_paths
from sluice.stores.base import JobNotFound, JobQuery, JobStore, format_time
from sluice.stores.bson_limits import refusals_as_unstorable
from sluice.stores.mongo_client import MongoClients, ensure_indexes
from sluice.stores.quarantine import UnreadableJob, job_from_document

# mutate() reads and writes back at once, so a few recent reads suffice; jobs can be large.
READ_CACHE_SIZE = 64


def mongo_job_indexes() -> list[IndexModel]:
    """Every index of the ``jobs`` collection, in one place (created once per process).

    Listing sorts on ``(created_at, _id)``, so each compound index ends with ``_id`` as the
    tie-breaker and a page is read from the index without an in-memory sort. Batch progress
    (``input.batch_run``), a crawl's frontier (``input.crawl_id``) and the recovery sweeps
    (``status`` + ``updated_at``) are indexed so that polling them every few seconds does
    not scan the collection. The partial indexes hold only the jobs that have the field.
    """
    by_time = [("created_at", ASCENDING), ("_id", ASCENDING)]
    return [
        IndexModel("idempotency_key", unique=True, sparse=True),
        IndexModel(by_time),
        IndexModel([("status", ASCENDING), *by_time]),
        IndexModel([("kind", ASCENDING), *by_time]),
        IndexModel([("tenant", ASCENDING), *by_time]),
        IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)]),
        IndexModel([("updated_at", ASCENDING)]),
        IndexModel([("input.batch_run", ASCENDING), ("status", ASCENDING)],
                   partialFilterExpression={"input.batch_run": {"$exists": True}}),
        IndexModel([("input.crawl_id", ASCENDING), *by_time],
                   partialFilterExpression={"input.crawl_id": {"$exists": True}}),
        IndexModel("wake_at", sparse=True),  # the due sweep: scheduled jobs, owed callbacks
    ]


def job_filter(query: JobQuery) -> dict[str, Any]:
    """The MongoDB filter for ``query``: every condition must hold, as in SQLite's ``AND``.

    Two conditions on one path (``fields`` naming a path twice, or a path also filtered by
    a named option) would overwrite each other in one dict; they are ANDed instead.
    """
    conditions: list[tuple[str, Any]] = []
    if query.statuses:
        conditions.append(("status", {"$in": [status.value for status in query.statuses]}))
    if query.kind:
        conditions.append(("kind", query.kind))
    if query.reason:
        conditions.append(("reason", query.reason.value))
    if query.tenant:
        # Jobs stored before tenants existed have no field: the default tenant's.
        conditions.append(("tenant", {"$in": [query.tenant, None]}
                           if query.tenant == DEFAULT_TENANT else query.tenant))
    conditions.extend(query.fields)
    created: dict[str, str] = {}
    if query.created_before:
        created["$lt"] = format_time(query.created_before)
    if query.created_after:
        created["$gt"] = format_time(query.created_after)
    if created:
        conditions.append(("created_at", created))
    if query.updated_before:
        conditions.append(("updated_at", {"$lt": format_time(query.updated_before)}))
    if query.wake_before:
        conditions.append(("wake_at", {"$lte": format_time(query.wake_before)}))
    merged: dict[str, Any] = {}
    repeated: list[dict[str, Any]] = []
    for path, value in conditions:
        if path in merged:
            repeated.append({path: value})
        else:
            merged[path] = value
    return {"$and": [merged, *repeated]} if repeated else merged


def job_update(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The update that turns the stored document into ``new``: only the top-level fields
    that changed (``$set``) or went (``$unset``). A mutate then writes a small oplog entry
    (the status, the version, the new attempt) instead of the whole job with its input and
    result, which keeps the oplog window, and so the change streams' resume window, long."""
    changed = {key: value for key, value in new.items()
               if key != "_id" and (key not in stored or stored[key] != value)}
    gone = {key: "" for key in stored if key not in new and key != "_id"}
    update: dict[str, Any] = {}
    if changed:
        update["$set"] = changed
    if gone:
        update["$unset"] = gone
    return update


def write_won(result: UpdateResult) -> bool:
    """A conditional write won its race when its filter matched. ``modified_count`` is 0
    when the new document equals the old one, which is a success, not a lost race."""
    return result.matched_count == 1


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
        # The document each recent get() read, by (id, version): mutate() replaces exactly
        # that version, so _replace() can write the difference only.
        self._read: dict[tuple[str, int], dict[str, Any]] = {}
        self._read_lock = threading.Lock()

    @property
    def _jobs(self) -> Collection[dict[str, Any]]:
        jobs = self._clients.collection(self._database, self._collection_name)
        own = mongo_job_indexes()
        ensure_indexes(jobs, self._clients.url, [*own, *mongo_hot_paths.hot_path_indexes(own)])
        mongo_hot_paths.seed_counters_once(jobs)
        return jobs

    # Finished-job counters for /metrics (see sluice.stores.mongo_hot_paths).
    def _written(self, job: Job, previous: Job | None) -> None:
        mongo_hot_paths.count_finished(self._jobs.database, job, previous)
        super()._written(job, previous)

    def finished_counts(self) -> dict[tuple[str, str], int]:
        return mongo_hot_paths.finished_counts(self._jobs.database)

    def _insert(self, job: Job) -> bool:
        document = _to_document(job)
        try:
            with refusals_as_unstorable(document, f"job {job.id}"):
                self._jobs.insert_one(document)
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
        with self._read_lock:
            self._read[(job.id, job.version)] = document
            if len(self._read) > READ_CACHE_SIZE:
                self._read.pop(next(iter(self._read)))
        return job

    def get_by_idempotency_key(self, key: str) -> Job | None:
        document = self._jobs.find_one({"idempotency_key": key})
        return _from_document(document) if document else None

    def _replace(self, job: Job, current: Job) -> bool:
        expected_version = current.version
        document = _to_document(job)
        with self._read_lock:
            stored = self._read.pop((job.id, expected_version), None)
        selector = {"_id": job.id, "version": expected_version}
        with refusals_as_unstorable(document, f"job {job.id}"):
            if stored is None:
                result = self._jobs.replace_one(selector, document)
            else:
                result = self._jobs.update_one(selector, job_update(stored, document))
        return write_won(result)

    def is_unavailable(self, error: BaseException) -> bool:
        """A lost connection, an election under way, or a timed-out call: the write may
        succeed when retried, and says nothing about the job."""
        return isinstance(error, ConnectionFailure) or (
            isinstance(error, PyMongoError) and error.timeout)

    def _delete(self, job_ids: Sequence[str]) -> int:
        if not job_ids:
            return 0
        return int(self._jobs.delete_many({"_id": {"$in": list(job_ids)}}).deleted_count)

    def _filter(self, query: JobQuery) -> dict[str, Any]:
        return job_filter(query)

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


__all__ = ["MongoClients", "MongoJobStore", "job_filter", "job_update", "mongo_job_indexes",
           "write_won"]
