"""The contract every job store keeps; runs against SQLite always, MongoDB when configured."""

from __future__ import annotations

import multiprocessing
import os
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from schemas.attempt import Attempt, AttemptOutcome
from schemas.job import DeadReason, IllegalTransition, Job, JobStatus, utcnow
from schemas.job_event import JobEvent
from sluice.stores import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidCursor,
    JobNotFound,
    JobQuery,
    JobStore,
)
from sluice.stores.sqlite import SQLiteJobStore


def new_job(**fields: object) -> Job:
    return Job.model_validate({"kind": "echo", "task_id": uuid.uuid4().hex, **fields})


def test_created_job_reads_back_equal(store: JobStore) -> None:
    job, created = store.create(new_job(input={"text": "héllo", "n": [1, 2]}))
    assert created
    assert store.get(job.id) == job


def test_a_nul_character_in_the_input_is_kept_and_the_job_still_listed(
    store: JobStore,
) -> None:
    # PostgreSQL's JSONB cannot hold NUL; a stray byte in an email must not lose the job.
    job, _ = store.create(new_job(input={"text": "before\x00after", "source": "mail"}))
    moved = store.transition(job.id, JobStatus.RUNNING)
    assert store.get(job.id) == moved and moved.input["text"] == "before\x00after"
    assert [found.id for found in store.list_jobs(JobQuery(fields=(("input.source", "mail"),)))
            .items] == [job.id]


def test_unknown_job_raises_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get("nope")


def test_same_idempotency_key_returns_the_existing_job(store: JobStore) -> None:
    first, created = store.create(new_job(idempotency_key="order-1", input={"a": 1}))
    again, created_again = store.create(new_job(idempotency_key="order-1", input={"a": 1}))
    assert created and not created_again
    assert again.id == first.id
    assert store.count(JobQuery()) == 1


def test_same_idempotency_key_with_other_input_is_a_conflict(store: JobStore) -> None:
    store.create(new_job(idempotency_key="order-2", input={"a": 1}))
    with pytest.raises(IdempotencyConflict):
        store.create(new_job(idempotency_key="order-2", input={"a": 2}))


def test_illegal_transition_raises_and_changes_nothing(store: JobStore) -> None:
    job, _ = store.create(new_job())
    with pytest.raises(IllegalTransition):
        store.transition(job.id, JobStatus.SUCCEEDED)
    assert store.get(job.id) == job


def test_transition_bumps_the_version_and_sets_fields(store: JobStore) -> None:
    job, _ = store.create(new_job())
    moved = store.transition(job.id, JobStatus.RUNNING)
    done = store.transition(moved.id, JobStatus.SUCCEEDED, result={"ok": True})
    assert (moved.version, done.version) == (1, 2)
    stored = store.get(job.id)
    assert stored.status is JobStatus.SUCCEEDED and stored.result == {"ok": True}
    assert stored.finished_at is not None


def test_stale_expected_version_is_refused(store: JobStore) -> None:
    job, _ = store.create(new_job(status=JobStatus.DEAD))
    store.transition(job.id, JobStatus.CLAIMED, claimed_by="ann")
    with pytest.raises(ConcurrentUpdate):
        store.transition(job.id, JobStatus.RESOLVED, expected_version=job.version)
    assert store.get(job.id).status is JobStatus.CLAIMED


def test_racing_transitions_have_exactly_one_winner(store: JobStore) -> None:
    """Cancel and start race for the same queued job; the loser sees IllegalTransition."""
    for _ in range(10):
        job, _ = store.create(new_job())
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def attempt(
            target: JobStatus,
            job_id: str = job.id,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                store.transition(job_id, target)
                outcomes.append(f"won:{target}")
            except IllegalTransition:
                outcomes.append("lost")

        threads = [
            threading.Thread(target=attempt, args=(target,))
            for target in (JobStatus.RUNNING, JobStatus.CANCELLED)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcome.startswith("won") for outcome in outcomes) == [False, True]
        assert store.get(job.id).version == 1


def test_delivery_is_counted_before_running(store: JobStore) -> None:
    job, _ = store.create(new_job())
    decision = store.begin_delivery(job.id, job.task_id or "")
    assert decision.run
    assert store.get(job.id).deliveries == 1
    assert store.get(job.id).status is JobStatus.RUNNING


def test_a_first_delivery_stores_what_the_general_path_would(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend's one-write first delivery must not drift from decide_delivery."""
    events: list[tuple[str, list[str]]] = []
    store.observe(lambda job, previous: events.append(
        (job.id, JobEvent.between(previous, job).changed)))
    one_write, _ = store.create(new_job(input={"n": 1}))
    general, _ = store.create(new_job(input={"n": 1}))
    first = store.begin_delivery(one_write.id, one_write.task_id or "")
    monkeypatch.setattr(store, "_count_first_delivery", lambda job_id, task_id: None)
    second = store.begin_delivery(general.id, general.task_id or "")

    assert (first.run, first.changed, first.why) == (second.run, second.changed, second.why)
    varying = {"id", "task_id", "created_at", "updated_at", "started_at"}
    stored = [store.get(job.id) for job in (one_write, general)]
    assert [job.model_dump(exclude=varying) for job in stored] == [
        job.model_dump(exclude=varying) for job in (first.job, second.job)]
    assert stored[0].model_dump(exclude=varying) == stored[1].model_dump(exclude=varying)
    assert stored[0].started_at is not None
    changed = {job_id: names for job_id, names in events if job_id in (one_write.id, general.id)}
    assert changed[one_write.id] == changed[general.id] == ["status", "deliveries", "started_at"]


def test_sqlite_counts_a_first_delivery_in_one_write(tmp_path: Path) -> None:
    store = SQLiteJobStore(tmp_path / "jobs.db")
    job, _ = store.create(new_job())
    counted = store._count_first_delivery(job.id, job.task_id or "")
    assert counted is not None and counted.status is JobStatus.RUNNING
    # Not a first delivery any more: the general path decides from here.
    assert store._count_first_delivery(job.id, job.task_id or "") is None


def test_a_message_that_is_not_the_jobs_current_one_is_dropped(store: JobStore) -> None:
    job, _ = store.create(new_job())
    decision = store.begin_delivery(job.id, "some-older-message")
    assert not decision.run and "stale" in decision.why
    assert store.get(job.id).deliveries == 0


def test_finished_or_cancelled_jobs_are_not_run_again(store: JobStore) -> None:
    job, _ = store.create(new_job())
    store.cancel(job.id)
    decision = store.begin_delivery(job.id, job.task_id or "")
    assert not decision.run
    assert store.get(job.id).status is JobStatus.CANCELLED


def test_delivery_past_max_deliveries_is_poison_without_running(store: JobStore) -> None:
    job, _ = store.create(new_job(max_deliveries=3))
    runs = [store.begin_delivery(job.id, job.task_id or "").run for _ in range(4)]
    assert runs == [True, True, True, False]
    dead = store.get(job.id)
    assert (dead.status, dead.reason, dead.deliveries) == (JobStatus.DEAD, DeadReason.POISON, 4)


def test_retries_do_not_count_towards_the_poison_cap(store: JobStore) -> None:
    job, _ = store.create(new_job(max_deliveries=2))
    for retry in range(3):
        assert store.begin_delivery(job.id, job.task_id or "").run
        store.transition(job.id, JobStatus.RETRYING, retries=retry + 1)
    assert store.begin_delivery(job.id, job.task_id or "").run


def test_cursor_pagination_visits_every_job_once_in_order(store: JobStore) -> None:
    ids = [store.create(new_job(kind="echo" if i % 2 else "other"))[0].id for i in range(25)]
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list_jobs(JobQuery(), limit=7, cursor=cursor)
        seen.extend(job.id for job in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids))
    oldest = store.list_jobs(JobQuery(kind="echo"), limit=100, oldest_first=True)
    assert [job.id for job in oldest.items] == ids[1::2]


def test_filters_by_status_reason_and_field(store: JobStore) -> None:
    store.create(new_job(input={"schema": "a"}))
    dead, _ = store.create(new_job(input={"schema": "b"}))
    store.transition(dead.id, JobStatus.DEAD, reason=DeadReason.EXHAUSTED)
    query = JobQuery(statuses=(JobStatus.DEAD,), reason=DeadReason.EXHAUSTED,
                     fields=(("input.schema", "b"),))
    assert [job.id for job in store.list_jobs(query).items] == [dead.id]
    assert store.count(JobQuery(fields=(("input.schema", "a"),))) == 1


def test_filters_by_tenant_and_the_default_tenant_holds_jobs_from_before(
    store: JobStore,
) -> None:
    mine, _ = store.create(new_job(tenant="acme"))
    theirs, _ = store.create(new_job(tenant="globex"))
    old, _ = store.create(new_job())
    assert [job.id for job in store.list_jobs(JobQuery(tenant="acme")).items] == [mine.id]
    assert [job.id for job in store.list_jobs(JobQuery(tenant="default")).items] == [old.id]
    assert store.count(JobQuery(tenant="globex")) == 1 and store.count(JobQuery()) == 3
    assert store.get(theirs.id).tenant == "globex"


def test_malformed_cursor_is_refused(store: JobStore) -> None:
    with pytest.raises(InvalidCursor):
        store.list_jobs(JobQuery(), cursor="not-a-cursor")


def test_stranded_lists_old_unsent_queued_jobs(store: JobStore) -> None:
    old = new_job()
    old.created_at = utcnow() - timedelta(minutes=5)
    store.create(old)
    sent = new_job(sent_at=utcnow())
    sent.created_at = old.created_at
    store.create(sent)
    store.create(new_job())
    assert [job.id for job in store.stranded(timedelta(minutes=1))] == [old.id]


def _append_attempts(path: str, job_id: str, count: int) -> None:
    store = SQLiteJobStore(Path(path))
    for index in range(count):
        store.append_attempt(job_id, Attempt(number=index + 1, endpoint=f"pid:{os.getpid()}",
                                             outcome=AttemptOutcome.INVALID))
    store.close()


def test_an_older_sqlite_file_gets_the_tenant_column_once(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:  # the table as released before tenants
        connection.executescript(
            "CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,"
            " reason TEXT, idempotency_key TEXT UNIQUE, created_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL);"
        )
        old = new_job()
        connection.execute(
            "INSERT INTO jobs VALUES (?, ?, ?, NULL, NULL, ?, ?, 0, ?)",
            (old.id, old.kind, old.status.value, "2020-01-01T00:00:00.000000Z",
             "2020-01-01T00:00:00.000000Z",
             old.model_dump_json(exclude={"tenant"})),
        )
    connection.close()
    for _ in range(2):  # a second open finds the column and changes nothing
        opened = SQLiteJobStore(path)
        assert [job.id for job in opened.list_jobs(JobQuery(tenant="default")).items] == [
            old.id]
        assert opened.get(old.id).tenant == "default"
        opened.close()


def test_sqlite_compare_and_set_holds_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteJobStore(path)
    job, _ = store.create(new_job())
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_append_attempts, args=(str(path), job.id, 40)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    stored = store.get(job.id)
    assert len(stored.attempts) == 120
    assert stored.version == 120


def test_count_by_groups_matching_jobs_by_a_field(store: JobStore) -> None:
    for signature in ("a", "a", "b", None):
        store.create(new_job(status=JobStatus.DEAD, error_signature=signature))
    store.create(new_job(error_signature="a"))  # queued: not matched
    counts = store.count_by(JobQuery(statuses=(JobStatus.DEAD,)), "error_signature")
    assert counts == {"a": 2, "b": 1, None: 1}


def test_count_upto_stops_at_the_cap_and_counts_exactly_below_it(store: JobStore) -> None:
    for _ in range(5):
        store.create(new_job(status=JobStatus.SUCCEEDED))
    store.create(new_job())  # queued: not matched
    succeeded = JobQuery(statuses=(JobStatus.SUCCEEDED,))
    assert store.count_upto(succeeded, 3) == 3
    assert store.count_upto(succeeded, 10) == 5
    assert store.count_upto(JobQuery(statuses=(JobStatus.DEAD,)), 10) == 0


def test_observers_see_each_written_version_and_nothing_refused(store: JobStore) -> None:
    seen: list[tuple[int, JobStatus]] = []
    store.observe(lambda job, previous: seen.append((job.version, job.status)))
    job, _ = store.create(new_job(idempotency_key="watched"))
    store.create(new_job(idempotency_key="watched"))  # the existing job: nothing written
    store.transition(job.id, JobStatus.RUNNING)
    with pytest.raises(IllegalTransition):
        store.transition(job.id, JobStatus.REQUEUED)
    store.mutate(job.id, lambda current: None)  # no change: nothing written
    store.transition(job.id, JobStatus.SUCCEEDED, result={"ok": True})
    first = job.version
    assert seen == [(first, JobStatus.QUEUED), (first + 1, JobStatus.RUNNING),
                    (first + 2, JobStatus.SUCCEEDED)]


def test_a_failing_observer_never_fails_the_write(store: JobStore) -> None:
    def broken(job: Job, previous: Job | None) -> None:
        raise RuntimeError("the broker is gone")

    store.observe(broken)
    job, created = store.create(new_job())
    assert created
    assert store.transition(job.id, JobStatus.RUNNING).status is JobStatus.RUNNING


def test_due_lists_scheduled_jobs_and_owed_callbacks_by_wake_at(store: JobStore) -> None:
    now = utcnow()
    soon, _ = store.create(new_job(status=JobStatus.SCHEDULED,
                                   run_at=now - timedelta(seconds=1)))
    later, _ = store.create(new_job(status=JobStatus.SCHEDULED, run_at=now + timedelta(days=9)))
    store.create(new_job())  # queued: nothing to wake for
    called, _ = store.create(new_job(callback_url="https://hooks.example.com/x"))
    store.transition(called.id, JobStatus.RUNNING)
    settled = store.transition(called.id, JobStatus.SUCCEEDED)
    assert settled.callbacks and settled.wake_at is not None

    assert {job.id for job in store.due(utcnow())} == {soon.id, called.id}
    assert {job.id for job in store.due(now + timedelta(days=10))} == {
        soon.id, later.id, called.id}
    store.cancel(later.id)  # a cancelled job has nothing to wake for
    assert later.id not in {job.id for job in store.due(now + timedelta(days=10))}
