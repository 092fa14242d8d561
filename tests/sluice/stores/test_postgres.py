"""What only the PostgreSQL backend has: versioned migrations, compare-and-set across
processes, an index under every listing, and selection by ``SLUICE_DATABASE_URL``.

The behaviour every backend shares is in the contract suites beside this file, which run
against PostgreSQL too.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from schemas.attempt import Attempt, AttemptOutcome
from schemas.job import DeadReason, Job, JobStatus, utcnow
from sluice.settings import SettingsError, load_settings
from sluice.stores import JobQuery, open_store
from sluice.stores.migrations import SchemaTooNew
from sluice.stores.postgres import PostgresJobStore
from sluice.stores.postgres_db import PostgresConnections, migrate, schema_version

STEPS = (
    "CREATE TABLE migrated (id INTEGER PRIMARY KEY)",
    "ALTER TABLE migrated ADD COLUMN name TEXT",
)


def version_of(url: str, owner: str) -> int:
    with psycopg.connect(url) as connection:
        return schema_version(connection, owner)


def test_steps_run_once_in_order_and_a_second_open_finds_nothing_to_do(
    postgres_url: str,
) -> None:
    database = PostgresConnections(postgres_url)
    owner = f"test-{uuid.uuid4().hex[:6]}"
    # CREATE TABLE twice would fail: eight racing openers must migrate exactly once.
    failures: list[BaseException] = []

    def open_it() -> None:
        try:
            migrate(database, owner, STEPS[:1])
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert version_of(postgres_url, owner) == 1
    assert migrate(database, owner, STEPS) == 2  # a release that appended a step
    database.execute("INSERT INTO migrated (id, name) VALUES (1, 'x')")
    assert migrate(database, owner, STEPS) == 2
    database.execute("DROP TABLE migrated")


def test_a_failing_step_leaves_the_database_as_it_was(postgres_url: str) -> None:
    database = PostgresConnections(postgres_url)
    owner = f"test-{uuid.uuid4().hex[:6]}"
    with pytest.raises(psycopg.errors.SyntaxError):
        migrate(database, owner, ("CREATE TABLE half (id INTEGER)", "NOT SQL AT ALL"))
    assert version_of(postgres_url, owner) == 0
    assert database.fetchone("SELECT to_regclass('half')")[0] is None


def test_a_database_from_a_newer_release_is_refused(postgres_url: str) -> None:
    database = PostgresConnections(postgres_url)
    owner = f"test-{uuid.uuid4().hex[:6]}"
    migrate(database, owner, ("SELECT 1", "SELECT 2"))
    with pytest.raises(SchemaTooNew):
        migrate(database, owner, ("SELECT 1",))


def _append_attempts(url: str, job_id: str, count: int) -> None:
    store = PostgresJobStore(url)
    for number in range(count):
        store.append_attempt(job_id, Attempt(number=number + 1, outcome=AttemptOutcome.INVALID))
    store.close()


def test_compare_and_set_holds_across_processes(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    job, _ = store.create(Job(kind="echo"))
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_attempts, args=(postgres_url, job.id, 30))
                 for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(90)
        assert process.exitcode == 0
    stored = store.get(job.id)
    assert (len(stored.attempts), stored.version) == (90, 90)


def test_a_forked_child_gets_its_own_connections(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    job, _ = store.create(Job(kind="echo"))
    child = multiprocessing.get_context("fork").Process(
        target=_append_attempts, args=(postgres_url, job.id, 5)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    # The parent's pooled connection still works after the child used and left its own.
    assert len(store.get(job.id).attempts) == 5


# Every query shape the API, the dashboard, recovery and the producers run.
HOT_QUERIES = {
    "newest first": JobQuery(),
    "by status": JobQuery(statuses=(JobStatus.DEAD,)),
    "by kind": JobQuery(kind="extract"),
    "by tenant": JobQuery(tenant="acme"),
    "dead by reason": JobQuery(statuses=(JobStatus.DEAD,), reason=DeadReason.POISON),
    "a crawl's fetches": JobQuery(kind="crawl.fetch", fields=(("input.crawl_id", "c1"),)),
    "a batch run's jobs": JobQuery(fields=(("input.batch_run", "r1"),)),
    "stranded": JobQuery(statuses=(JobStatus.QUEUED,), fields=(("sent_at", None),),
                         created_before=utcnow()),
    "abandoned": JobQuery(statuses=(JobStatus.RUNNING, JobStatus.RETRYING),
                          updated_before=utcnow() - timedelta(minutes=5)),
}


@pytest.mark.parametrize("shape", sorted(HOT_QUERIES))
def test_every_listing_can_be_served_by_an_index(postgres_url: str, shape: str) -> None:
    store = PostgresJobStore(postgres_url)
    query = HOT_QUERIES[shape]
    with psycopg.connect(postgres_url) as connection:
        # Without this the planner rightly scans a table this small; with it, a plan that
        # still scans the table means no index could serve the query.
        connection.execute("SET enable_seqscan = off")
        shapes = [store.page_sql(query, 50, None, False), store.count_sql(query)]
        if query.statuses:  # the groups of the DLQ and of the fleet metrics
            shapes += [store.count_sql(query, "error_signature"), store.count_sql(query, "kind")]
        for sql, params in shapes:
            plan = "\n".join(row[0] for row in connection.execute(
                ("EXPLAIN " + sql).encode(), params))
            assert "Seq Scan on jobs" not in plan, (shape, sql, plan)


def test_the_database_url_selects_postgresql_for_every_store(
    postgres_url: str, tmp_path: Path
) -> None:
    from dlq_dashboard.database import open_dashboard_db
    from dlq_dashboard.database_postgres import PostgresDashboardDatabase
    from libs.documents.postgres import PostgresDocumentStore
    from libs.documents.warehouse import open_documents
    from libs.sinks.records import open_records
    from libs.sinks.records_postgres import PostgresRecordStore
    from producers.state_store import open_state_store
    from producers.state_store_postgres import PostgresStateStore

    settings = load_settings(data_dir=tmp_path, database_url=postgres_url)
    assert isinstance(open_store(settings), PostgresJobStore)
    assert isinstance(open_documents(settings), PostgresDocumentStore)
    assert isinstance(open_state_store(settings), PostgresStateStore)
    assert isinstance(open_records(settings), PostgresRecordStore)
    assert isinstance(open_dashboard_db(settings), PostgresDashboardDatabase)
    assert list(tmp_path.iterdir()) == []  # no SQLite file on the side


def test_the_database_url_is_checked_at_start_up() -> None:
    with pytest.raises(SettingsError, match=r"SLUICE_DATABASE_URL.*postgresql://"):
        load_settings(database_url="mysql://db/sluice")
    with pytest.raises(SettingsError, match="not both"):
        load_settings(database_url="postgresql://db/sluice", mongodb_url="mongodb://db/")
