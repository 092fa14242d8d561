"""What keeps the MongoDB job store's hot reads flat as history grows.

Two things, both set up when the store opens:

- :data:`HOT_PATH_INDEXES`: an index for every query a hot path runs (the first page of
  jobs, the dead-letter queue's page and groups, the live-set gauges of ``/metrics``, the
  recovery sweep, a crawl's and a batch run's jobs), so none reads more documents than it
  returns or counts; the contract suite checks each with ``explain()``.
- finished-job counters: one document per (kind, terminal status) in ``jobs_finished``,
  ``$inc``-ed after the write that moves a job into that status, so ``/metrics`` reads a
  handful of documents instead of counting every finished job. A database that held jobs
  before the counters existed is counted once, by the first process that opens it.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError
from pymongo.operations import IndexModel

from schemas.job import TERMINAL, Job

COUNTERS = "jobs_finished"
_SEEDED = "__seeded__"

HOT_PATH_INDEXES: tuple[list[tuple[str, int]], ...] = (
    [("status", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
    [("status", ASCENDING), ("kind", ASCENDING)],
    [("status", ASCENDING), ("reason", ASCENDING)],
    [("status", ASCENDING), ("error_signature", ASCENDING)],
    [("status", ASCENDING), ("updated_at", ASCENDING)],
    [("created_at", DESCENDING), ("_id", DESCENDING)],
    [("input.crawl_id", ASCENDING)],
    [("input.batch_run", ASCENDING), ("status", ASCENDING)],
)


def hot_path_indexes(existing: list[IndexModel]) -> list[IndexModel]:
    """The hot paths' indexes that ``existing`` (the store's own list) does not hold yet:
    one key pattern is one index, whatever its options."""
    have = {tuple(model.document["key"].items()) for model in existing}
    return [IndexModel(keys) for keys in HOT_PATH_INDEXES if tuple(keys) not in have]


def seed_counters_once(jobs: Collection[dict[str, Any]]) -> None:
    """Count what the database held before the counters existed, once per process."""
    key = (id(jobs.database.client), jobs.database.name)
    if key in _seeded_here:
        return
    _seed_counters(jobs)
    _seeded_here.add(key)


_seeded_here: set[Any] = set()


def _seed_counters(jobs: Collection[dict[str, Any]]) -> None:
    counters = jobs.database[COUNTERS]
    try:
        counters.insert_one({"_id": _SEEDED})
    except DuplicateKeyError:
        return  # counted already (by this or another process)
    pipeline: list[dict[str, Any]] = [
        {"$match": {"status": {"$in": sorted(status.value for status in TERMINAL)}}},
        {"$group": {"_id": {"kind": "$kind", "status": "$status"}, "n": {"$sum": 1}}},
    ]
    for row in jobs.aggregate(pipeline):
        counters.update_one({"_id": _key(row["_id"]["kind"], row["_id"]["status"])},
                            {"$inc": {"total": row["n"]},
                             "$set": row["_id"]}, upsert=True)


def _key(kind: str, status: str) -> str:
    return f"{kind}\x1f{status}"


def count_finished(database: Database[dict[str, Any]], job: Job, previous: Job | None) -> None:
    """Add ``job`` to its counter if this write moved it into a terminal status."""
    if job.status not in TERMINAL or (previous is not None and previous.status is job.status):
        return
    database[COUNTERS].update_one(
        {"_id": _key(job.kind, job.status.value)},
        {"$inc": {"total": 1}, "$set": {"kind": job.kind, "status": job.status.value}},
        upsert=True,
    )


def finished_counts(database: Database[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return {
        (str(row["kind"]), str(row["status"])): int(row["total"])
        for row in database[COUNTERS].find({"_id": {"$ne": _SEEDED}})
    }


__all__ = ["HOT_PATH_INDEXES", "count_finished", "finished_counts", "hot_path_indexes",
           "seed_counters_once"]
