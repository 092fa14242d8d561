"""What every job store keeps so hot reads stay flat: finished-job counters kept at the
transition, a known version written over without a read, indexed hot queries (SQLite always,
MongoDB's ``explain()`` when a server is configured)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from schemas.job import DeadReason, Job, JobStatus
from sluice.stores import JobQuery, JobStore
from sluice.stores.migrations import schema_version
from sluice.stores.sqlite import MIGRATIONS, SQLiteJobStore
from tests.support.mongo import throwaway_database


def new_job(**fields: object) -> Job:
    return Job.model_validate({"kind": "echo", "task_id": uuid.uuid4().hex, **fields})


def finish(store: JobStore, kind: str, target: JobStatus) -> Job:
    job, _ = store.create(new_job(kind=kind))
    if target is JobStatus.CANCELLED:
        return store.cancel(job.id)
    store.transition(job.id, JobStatus.RUNNING)
    return store.transition(job.id, target)


def test_finished_counts_grow_once_per_job_entering_a_terminal_status(store: JobStore) -> None:
    finish(store, "echo", JobStatus.SUCCEEDED)
    done = finish(store, "echo", JobStatus.SUCCEEDED)
    finish(store, "extract", JobStatus.CANCELLED)
    running, _ = store.create(new_job(kind="extract"))
    store.transition(running.id, JobStatus.RUNNING)  # live: not counted
    store.update_fields(done.id, result={"again": True})  # same status: not counted again
    assert store.finished_counts() == {
        ("echo", "succeeded"): 2,
        ("extract", "cancelled"): 1,
    }


def test_a_known_version_is_written_without_reading_and_a_stale_one_is_read_again(
    store: JobStore,
) -> None:
    job, _ = store.create(new_job())
    reads: list[str] = []
    original_get = store.get

    def counting_get(job_id: str) -> Job:
        reads.append(job_id)
        return original_get(job_id)

    store.get = counting_get  # type: ignore[method-assign]
    marked = store.update_fields(job.id, sent_at=job.created_at, known=job)
    assert reads == [] and marked.version == job.version + 1
    # ``job`` is stale now: the write over it fails its version check, so the store reads.
    running = store.transition(job.id, JobStatus.RUNNING, known=job)
    assert reads == [job.id]
    assert running.version == job.version + 2 and running.sent_at == job.created_at


def test_count_by_a_column_and_a_virtual_column_agree_with_the_jobs(store: JobStore) -> None:
    for signature in ("a", "a", "b"):
        store.create(new_job(kind="extract", status=JobStatus.DEAD,
                             reason=DeadReason.EXHAUSTED, error_signature=signature))
    store.create(new_job(kind="fetch", input={"crawl_id": "c1"}))
    dead = JobQuery(statuses=(JobStatus.DEAD,))
    assert store.count_by(dead, "kind") == {"extract": 3}
    assert store.count_by(dead, "reason") == {"exhausted": 3}
    assert store.count_by(dead, "error_signature") == {"a": 2, "b": 1}
    assert store.count(JobQuery(fields=(("input.crawl_id", "c1"),))) == 1
    assert store.count(JobQuery(statuses=(JobStatus.DEAD,),
                                fields=(("error_signature", "b"),))) == 1


def test_an_older_sqlite_file_counts_its_finished_jobs_once_when_migrated(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sluice.db"
    store = SQLiteJobStore(path)
    for _ in range(3):
        finish(store, "echo", JobStatus.SUCCEEDED)
    store.close()
    # Back to the file as the release before the counters left it.
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "DROP TRIGGER jobs_finished_on_update; DROP TRIGGER jobs_finished_on_insert;"
            "DROP TABLE jobs_finished; UPDATE schema_migrations SET version = 2"
            " WHERE owner = 'jobs';"
        )
    store = SQLiteJobStore(path)
    assert schema_version(store._db.get(), "jobs") == len(MIGRATIONS)
    assert store.finished_counts() == {("echo", "succeeded"): 3}
    finish(store, "echo", JobStatus.SUCCEEDED)
    assert store.finished_counts() == {("echo", "succeeded"): 4}
    store.close()


# The queries the hot paths run, as (filter, sort) for MongoDB's explain().
MONGO_HOT_QUERIES: list[tuple[str, dict[str, Any], list[tuple[str, int]] | None]] = [
    ("first page of jobs", {}, [("created_at", -1), ("_id", -1)]),
    ("first DLQ page", {"status": {"$in": ["claimed", "dead"]}},
     [("created_at", -1), ("_id", -1)]),
    ("live gauge", {"status": "queued"}, None),
    ("recovery sweep", {"status": {"$in": ["running", "retrying"]},
                        "updated_at": {"$lt": "2026"}}, [("created_at", 1), ("_id", 1)]),
    ("a crawl's jobs", {"kind": "crawl.fetch", "input.crawl_id": "c1"}, None),
    ("a batch run's jobs", {"input.batch_run": "r1", "status": {"$in": ["succeeded"]}}, None),
    ("DLQ groups", {"status": {"$in": ["claimed", "dead"]}, "error_signature": "x"}, None),
]


def _plan_stages(plan: dict[str, Any]) -> list[str]:
    stages = [str(plan.get("stage"))]
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), dict):
            stages += _plan_stages(plan[key])
    for child in plan.get("inputStages", []):
        stages += _plan_stages(child)
    return stages


@pytest.mark.parametrize("name,conditions,sort", MONGO_HOT_QUERIES,
                         ids=[name for name, _c, _s in MONGO_HOT_QUERIES])
def test_mongodb_hot_queries_use_an_index(
    name: str, conditions: dict[str, Any], sort: list[tuple[str, int]] | None
) -> None:
    with throwaway_database() as (url, database):
        from sluice.stores.mongo import MongoJobStore

        store = MongoJobStore(url, database)
        try:
            cursor = store._jobs.find(conditions)
            if sort:
                cursor = cursor.sort(sort)
            winning = cursor.explain()["queryPlanner"]["winningPlan"]
            stages = _plan_stages(winning)
            assert "COLLSCAN" not in stages, (name, winning)
            assert "IXSCAN" in stages or "IDHACK" in stages, (name, winning)
        finally:
            store.close()
