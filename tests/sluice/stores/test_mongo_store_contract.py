"""What MongoDB refuses or needs that SQLite does not: run on both backends where the rule
is shared, on MongoDB alone where it is MongoDB's (skipping, saying why, without
SLUICE_MONGODB_URL; none can run here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.job import Job, JobStatus
from sluice.errors import UnstorableValue
from sluice.stores import JobQuery, JobStore
from tests.sluice.stores.conftest import Backend
from tests.support.mongo import throwaway_database


def new_job(**fields: object) -> Job:
    return Job.model_validate({"kind": "echo", "task_id": uuid.uuid4().hex, **fields})


def test_a_path_filtered_twice_must_match_both_values(store: JobStore) -> None:
    store.create(new_job(input={"schema": "a"}))
    twice = JobQuery(fields=(("input.schema", "a"), ("input.schema", "b")))
    assert store.count(twice) == 0
    assert store.count(JobQuery(fields=(("input.schema", "a"), ("input.schema", "a")))) == 1


def test_a_mutate_keeps_every_field_it_did_not_change(store: JobStore) -> None:
    job, _ = store.create(new_job(input={"text": "x" * 1000}, error="old"))
    store.update_fields(job.id, error=None)
    done = store.transition(job.id, JobStatus.RUNNING)
    assert store.get(job.id) == done
    assert done.input == {"text": "x" * 1000} and done.error is None


@pytest.fixture
def mongodb() -> Iterator[Backend]:
    with throwaway_database() as (url, database):
        yield Backend("mongodb", Path("unused"), url, database)


@pytest.mark.mongodb
def test_mongodb_refuses_a_result_beyond_64_bits_by_name_and_keeps_the_job(
    mongodb: Backend,
) -> None:
    from sluice.stores.mongo import MongoJobStore

    assert mongodb.mongodb_url is not None
    store = MongoJobStore(mongodb.mongodb_url, mongodb.mongodb_database)
    job, _ = store.create(new_job())
    running = store.transition(job.id, JobStatus.RUNNING)
    with pytest.raises(UnstorableValue, match=r"result\.n"):
        store.transition(job.id, JobStatus.SUCCEEDED, result={"n": 2**64})
    assert store.get(job.id) == running
    with pytest.raises(UnstorableValue, match="16 MiB"):
        store.create(new_job(input={"text": "x" * (17 * 1024 * 1024)}))


@pytest.mark.mongodb
def test_mongodb_indexes_exist_after_first_use_with_the_id_tie_breaker(
    mongodb: Backend,
) -> None:
    from sluice.stores.mongo import MongoJobStore, mongo_job_indexes

    assert mongodb.mongodb_url is not None
    store = MongoJobStore(mongodb.mongodb_url, mongodb.mongodb_database)
    store.create(new_job())
    built = {index["name"] for index in store._jobs.list_indexes()}
    assert {model.document["name"] for model in mongo_job_indexes()} <= built


@pytest.mark.mongodb
def test_mongodb_reads_the_primary_when_the_url_asks_for_a_secondary(
    mongodb: Backend,
) -> None:
    from sluice.stores.mongo import MongoJobStore

    assert mongodb.mongodb_url is not None
    separator = "&" if "?" in mongodb.mongodb_url else "/?"
    url = f"{mongodb.mongodb_url}{separator}readPreference=secondary"
    store = MongoJobStore(url, mongodb.mongodb_database)
    for _ in range(20):  # a secondary would lag behind some of these
        job, _ = store.create(new_job())
        assert store.transition(job.id, JobStatus.RUNNING).version == job.version + 1
