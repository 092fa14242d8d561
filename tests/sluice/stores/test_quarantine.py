"""A stored row that no longer parses is quarantined: it never breaks a listing or a sweep."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.job import Job, JobStatus
from sluice.stores.base import JobNotFound, JobQuery, JobStore
from sluice.stores.quarantine import QUARANTINED, UnreadableJob
from sluice.stores.sqlite import SQLiteJobStore


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_job_nested_past_the_json_parsers_limit_reads_back(store: JobStore) -> None:
    job, _ = store.create(Job(kind="echo", input=_nested(230)))
    assert store.get(job.id).input == _nested(230)
    assert [found.id for found in store.list_jobs(JobQuery(), limit=10).items] == [job.id]


def test_a_damaged_row_is_skipped_by_listings_and_sweeps_and_unreadable_alone(
    tmp_path: Path,
) -> None:
    store = SQLiteJobStore(tmp_path / "sluice.db")
    good, _ = store.create(Job(kind="echo", input={"n": 1}, status=JobStatus.QUEUED))
    bad, _ = store.create(Job(kind="echo", input={"n": 2}, status=JobStatus.QUEUED))
    with sqlite3.connect(tmp_path / "sluice.db") as raw:
        raw.execute("UPDATE jobs SET doc = ? WHERE id = ?", ('{"id": "broken', bad.id))
    before = QUARANTINED._value.get()

    assert [job.id for job in store.list_jobs(JobQuery(), limit=10).items] == [good.id]
    store.stranded(timedelta(0))
    store.abandoned(timedelta(0))
    with pytest.raises(UnreadableJob) as raised:
        store.get(bad.id)
    assert isinstance(raised.value, JobNotFound)
    assert store.get(good.id).input == {"n": 1}
    assert QUARANTINED._value.get() > before
    store.close()
