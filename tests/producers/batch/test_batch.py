"""Batch runs: bounded fan-out, exactly-once items across a killed driver, progress = store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery.schedules import crontab
from pydantic import ValidationError

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import open_documents
from producers.batch.progress import run_query
from producers.batch.runner import BatchRunner
from producers.batch.runs import RunStatus
from producers.batch.schedule import BadCron, beat_schedule
from producers.email.intake import EmailIntake
from producers.state_store import open_state_store
from schemas.job import JobStatus
from sluice.settings import ScheduledBatch
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv, make_env
from tests.support.polling import wait_for

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"
PLUGINS = "tests.support.kernel_tasks,tests.producers.email.kinds,tests.producers.batch.items"
ITEMS = 60


@pytest.fixture
def batch_env(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[SluiceEnv]:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS, batch_max_in_flight=4)
    yield env
    for worker in env.workers:
        worker.stop()
    env.store.close()


def runner_for(env: SluiceEnv) -> BatchRunner:
    return BatchRunner(store=env.store, celery=env.celery, settings=env.settings,
                       state=open_state_store(env.settings))


@pytest.mark.slow
def test_a_run_killed_halfway_and_resumed_processes_every_item_exactly_once(
    batch_env: SluiceEnv, tmp_path: Path
) -> None:
    release, completions = tmp_path / "release", tmp_path / "completions.log"
    release.touch()
    batch_env.worker(queues="cpu", concurrency=2)
    options = ["-o", f"n={ITEMS}", "-o", f"release={release}", "-o", f"completions={completions}"]
    log = (tmp_path / "driver.log").open("w")
    driver = subprocess.Popen(
        [sys.executable, "-m", "cli", "batch", "run", "test.items", *options],
        env=batch_env.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    runs = runner_for(batch_env).runs
    run = wait_for(lambda: next(iter(runs.list(1)), None), timeout=60, what="the run record")
    wait_for(lambda: batch_env.store.count(run_query(run.id)) >= ITEMS // 2, timeout=60,
             what="half the items submitted")
    os.killpg(driver.pid, signal.SIGKILL)  # the driver dies mid-run, as a laptop lid closes
    driver.wait()
    killed_at = batch_env.store.count(run_query(run.id))
    assert killed_at < ITEMS and runs.get(run.id).status is RunStatus.RUNNING

    resumed = subprocess.run(
        [sys.executable, "-m", "cli", "batch", "resume", run.id, "--timeout", "120"],
        env=batch_env.env, capture_output=True, text=True, timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr
    finished = runs.get(run.id)
    assert finished.status is RunStatus.FINISHED
    # Every item has exactly one job, and every job ran exactly once.
    jobs = list(batch_env.store.iter_jobs(run_query(run.id)))
    assert sorted(job.input["item"] for job in jobs) == list(range(ITEMS))
    ran = Counter(line.split()[0] for line in completions.read_text().splitlines())
    assert set(ran) == {job.id for job in jobs} and set(ran.values()) == {1}
    assert finished.summary is not None
    assert (finished.summary["succeeded"], finished.summary["dead"]) == (ITEMS, 0)
    # The API's figures are the store's.
    with batch_env.api() as api:
        body = api.get(f"/v1/batches/{run.id}", headers=batch_env.auth()).json()
        assert api.get("/v1/batches/nope", headers=batch_env.auth()).status_code == 404
    progress = body["progress"]
    assert progress["submitted"] == batch_env.store.count(run_query(run.id)) == ITEMS
    assert progress["succeeded"] == batch_env.store.count(
        run_query(run.id, JobStatus.SUCCEEDED)) == ITEMS
    assert (progress["in_flight"], progress["done"], progress["total"]) == (0, ITEMS, ITEMS)
    assert body["run"]["status"] == "finished"


def test_fan_out_never_exceeds_the_in_flight_bound(batch_env: SluiceEnv, tmp_path: Path) -> None:
    runner = runner_for(batch_env)
    run = runner.start("test.items", options={
        "n": 10, "release": str(tmp_path / "never"), "completions": str(tmp_path / "c.log")})
    for _ in range(3):  # no worker: nothing finishes, so nothing more may be submitted
        progress = runner.advance(run.id)
    assert (progress.submitted, progress.queued, progress.selected) == (4, 4, 10)
    assert runner.runs.get(run.id).cursor == "3"


def ingest_fixture_emails(env: SluiceEnv) -> EmailIntake:
    documents = open_documents(env.settings)
    intake = EmailIntake(settings=env.settings, store=env.store, celery=env.celery,
                         documents=documents)
    for path in sorted(FIXTURES.glob("*.eml")):
        intake.ingest(path.read_bytes(), schema="support_ticket")
    intake.ingest((FIXTURES / "malformed.bin").read_bytes(), schema="support_ticket")
    return intake


def test_re_extract_resubmits_each_stored_email_once_with_the_new_options(
    batch_env: SluiceEnv,
) -> None:
    ingest_fixture_emails(batch_env)
    emails = batch_env.store.count(JobQuery(kind="extract"))
    runner = BatchRunner(store=batch_env.store, celery=batch_env.celery,
                         settings=batch_env.settings.model_copy(update={"batch_max_in_flight": 50}),
                         state=open_state_store(batch_env.settings))
    run = runner.start("re-extract", options={"schema_version": 2, "model": "bigger-model"},
                       filters=[("schema", "support_ticket")])
    assert run.selected == emails
    runner.advance(run.id)
    runner.advance(run.id)  # again: nothing new
    jobs = list(batch_env.store.iter_jobs(run_query(run.id)))
    assert len(jobs) == emails - 1  # the unparsable one has no text to extract
    assert runner.runs.get(run.id).skipped == 1
    assert {(job.input["schema_version"], job.input["model"]) for job in jobs} == {
        (2, "bigger-model")}
    assert len({job.input["reextract_of"] for job in jobs}) == len(jobs)
    assert all(job.input["text"] for job in jobs)
    # A second run selects only the original emails, never the first run's jobs.
    assert runner.start("re-extract").selected == emails


def test_re_embed_queues_every_document_into_the_new_collection(batch_env: SluiceEnv) -> None:
    ingest_fixture_emails(batch_env)
    documents = open_documents(batch_env.settings).count()
    runner = BatchRunner(store=batch_env.store, celery=batch_env.celery,
                         settings=batch_env.settings.model_copy(update={"batch_max_in_flight": 50}),
                         state=open_state_store(batch_env.settings))
    run = runner.start("re-embed", filters=[("source", "email")])
    assert run.selected == documents > 0
    runner.advance(run.id)
    jobs = list(batch_env.store.iter_jobs(run_query(run.id)))
    assert len(jobs) == documents
    target = f"{batch_env.settings.qdrant_collection}_{run.id}"
    assert {(job.kind, job.input["collection"], job.input["force"]) for job in jobs} == {
        ("embed", target, True)}


def test_the_beat_schedule_comes_from_the_settings(batch_env: SluiceEnv) -> None:
    settings = batch_env.settings.model_copy(update={
        "batch_schedule": [ScheduledBatch(transform="re-embed", cron="30 2 * * *")],
        "email_mailboxes": [],
    })
    schedule = beat_schedule(settings)
    [(_name, entry)] = schedule.items()
    assert entry["task"] == "batch.start" and entry["args"] == ["re-embed", {}]
    assert entry["schedule"] == crontab(minute="30", hour="2")
    with pytest.raises(ValidationError, match="five fields"):  # refused at start-up
        ScheduledBatch(transform="re-embed", cron="nightly")
    # and by the schedule itself, for an entry that got past validation
    unchecked = ScheduledBatch.model_construct(transform="re-embed", cron="nightly", options={})
    with pytest.raises(BadCron):
        beat_schedule(settings.model_copy(update={"batch_schedule": [unchecked]}))
    assert json.dumps(sorted(schedule))


@pytest.mark.slow
def test_a_scheduled_run_is_started_and_driven_to_the_end_by_celery_tasks(
    batch_env: SluiceEnv, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    release.touch()
    batch_env.worker(queues="io,cpu", concurrency=2)
    options = {"n": 6, "release": str(release), "completions": str(tmp_path / "done.log")}
    batch_env.celery.send_task("batch.start", args=["test.items", options], queue="io")
    runs = runner_for(batch_env).runs
    run = wait_for(lambda: next(iter(runs.list(1)), None), timeout=30, what="the run record")
    finished = wait_for(lambda: runs.get(run.id).status is RunStatus.FINISHED and
                        runs.get(run.id), timeout=60, what="the run to finish")
    assert finished and finished.summary is not None
    assert (finished.summary["items"], finished.summary["succeeded"]) == (6, 6)
