"""Delivery under faults, with real worker processes on a real Redis."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.job import DeadReason, Job, JobStatus, utcnow
from sluice.enqueue import send, submit
from sluice.recovery import recover
from sluice.visibility import CountdownTooLong
from tests.conftest import SluiceEnv, make_env
from tests.support.polling import wait_for


def submit_job(env: SluiceEnv, kind: str, input: dict[str, Any]) -> Job:
    job, _ = submit(kind, input, store=env.store, celery=env.celery, settings=env.settings)
    return job


def wait_status(env: SluiceEnv, job_id: str, *statuses: JobStatus, timeout: float = 30) -> Job:
    def reached() -> Job | None:
        job = env.store.get(job_id)
        return job if job.status in statuses else None

    return wait_for(reached, timeout=timeout, what=f"job {job_id} to reach {statuses}")


def block_input(tmp: Path) -> dict[str, str]:
    return {"release": str(tmp / "release"), "completions": str(tmp / "completions.log")}


@pytest.mark.slow
def test_job_survives_sigkill_of_its_worker_and_completes_once(sluice_env: SluiceEnv) -> None:
    first = sluice_env.worker(pool="threads")
    job = submit_job(sluice_env, "test.block", block_input(sluice_env.tmp))
    wait_status(sluice_env, job.id, JobStatus.RUNNING)
    first.kill()

    sluice_env.worker(pool="threads")
    (sluice_env.tmp / "release").touch()
    done = wait_status(sluice_env, job.id, JobStatus.SUCCEEDED, timeout=60)

    assert done.deliveries == 2
    assert done.result == {"completed_on_delivery": 2}
    completions = (sluice_env.tmp / "completions.log").read_text().splitlines()
    assert completions == [f"{job.id} delivery=2"]


@pytest.mark.slow
def test_a_job_that_kills_its_worker_every_time_ends_poison(sluice_env: SluiceEnv) -> None:
    sluice_env.worker(pool="prefork", concurrency=1)
    poison = submit_job(sluice_env, "test.crash", {})
    dead = wait_status(sluice_env, poison.id, JobStatus.DEAD, timeout=90)
    assert dead.reason is DeadReason.POISON
    assert dead.deliveries == sluice_env.settings.max_deliveries + 1

    healthy = submit_job(sluice_env, "echo", {"still": "serving"})
    assert wait_status(sluice_env, healthy.id, JobStatus.SUCCEEDED).result == {"still": "serving"}


@pytest.mark.slow
def test_a_job_killed_at_the_hard_time_limit_ends_worker_lost_at_once(
    sluice_env: SluiceEnv,
) -> None:
    sluice_env.worker(pool="prefork", concurrency=1)
    stuck = submit_job(sluice_env, "test.stubborn", {})
    limit = sluice_env.settings.task_time_limit
    dead = wait_status(sluice_env, stuck.id, JobStatus.DEAD, timeout=limit + 30)
    assert dead.reason is DeadReason.WORKER_LOST
    assert "hard time limit" in (dead.error or "")
    assert dead.deliveries == 1  # not re-run to be killed again on every delivery
    # The worker replaced its killed child and goes on serving.
    healthy = submit_job(sluice_env, "echo", {"after": "the kill"})
    assert wait_status(sluice_env, healthy.id, JobStatus.SUCCEEDED).result == {"after": "the kill"}


def test_transient_faults_are_retried_with_backoff(sluice_env: SluiceEnv) -> None:
    sluice_env.worker()
    job = submit_job(sluice_env, "test.flaky", {"failures": 2})
    done = wait_status(sluice_env, job.id, JobStatus.SUCCEEDED)
    assert done.result == {"retries": 2}
    assert (done.retries, done.deliveries) == (2, 3)


def test_transient_faults_past_max_retries_end_exhausted(sluice_env: SluiceEnv) -> None:
    sluice_env.worker()
    job = submit_job(sluice_env, "test.flaky", {"failures": 99})
    dead = wait_status(sluice_env, job.id, JobStatus.DEAD)
    assert dead.reason is DeadReason.EXHAUSTED
    assert dead.retries == sluice_env.settings.max_retries
    assert "transient fault" in (dead.error or "")


def test_a_cancelled_job_is_dropped_on_delivery(sluice_env: SluiceEnv) -> None:
    job = submit_job(sluice_env, "echo", {"x": 1})
    sluice_env.store.cancel(job.id)
    sluice_env.worker()
    marker = submit_job(sluice_env, "echo", {"after": True})
    wait_status(sluice_env, marker.id, JobStatus.SUCCEEDED)
    cancelled = sluice_env.store.get(job.id)
    assert (cancelled.status, cancelled.deliveries) == (JobStatus.CANCELLED, 0)


def test_a_job_stored_while_the_broker_was_down_is_sent_later(
    sluice_env: SluiceEnv, tmp_path: Path
) -> None:
    down = make_env(tmp_path / "down", "redis+socket:///nonexistent/redis.sock")
    down_settings = down.settings.model_copy(update={"data_dir": sluice_env.settings.data_dir})
    job, created = submit(
        "echo", {"late": True}, store=sluice_env.store, celery=down.celery, settings=down_settings
    )
    assert created and sluice_env.store.get(job.id).sent_at is None

    sluice_env.worker()  # its recovery timer finds the stranded job
    done = wait_status(sluice_env, job.id, JobStatus.SUCCEEDED)
    assert done.result == {"late": True}
    assert recover(sluice_env.store, sluice_env.celery, sluice_env.settings) == 0


def test_a_running_job_whose_message_is_gone_is_sent_again(sluice_env: SluiceEnv) -> None:
    """A hard time limit or a broker that lost the message leaves a job running with no
    message anywhere; recovery finds it from the store once the visibility timeout passed."""
    quiet = timedelta(seconds=sluice_env.settings.visibility_timeout + 60)
    lost, _ = sluice_env.store.create(
        Job(kind="echo", input={"lost": True}, status=JobStatus.RUNNING, deliveries=1,
            task_id="a-message-nobody-has", updated_at=utcnow() - quiet)
    )
    fresh, _ = sluice_env.store.create(
        Job(kind="echo", status=JobStatus.RUNNING, deliveries=1, task_id="still-running")
    )
    assert recover(sluice_env.store, sluice_env.celery, sluice_env.settings) == 1

    sluice_env.worker()
    done = wait_status(sluice_env, lost.id, JobStatus.SUCCEEDED)
    assert (done.result, done.deliveries) == ({"lost": True}, 2)
    assert sluice_env.store.get(fresh.id).status is JobStatus.RUNNING


def test_a_queued_job_whose_message_vanished_is_sent_again(sluice_env: SluiceEnv) -> None:
    """Kombu's Redis transport pops a message, then records it as unacknowledged: a worker
    killed in between takes the message with it, and the job stays queued, sent, never run."""
    settings = sluice_env.settings
    quiet = timedelta(seconds=settings.visibility_timeout + settings.stranded_after_seconds + 60)
    long_ago = utcnow() - quiet
    lost, _ = sluice_env.store.create(Job(
        kind="echo", input={"lost": True}, task_id="a-message-a-dead-worker-took",
        sent_at=long_ago, updated_at=long_ago,
    ))
    waiting = submit_job(sluice_env, "echo", {"waiting": True})
    # Sent after the oldest message still in the queue: its own may be waiting behind it.
    behind, _ = sluice_env.store.create(Job(
        kind="echo", task_id="somewhere-in-the-queue", sent_at=utcnow(), updated_at=long_ago,
    ))

    assert recover(sluice_env.store, sluice_env.celery, settings) == 1
    assert sluice_env.store.get(behind.id).task_id == "somewhere-in-the-queue"

    sluice_env.worker()
    done = wait_status(sluice_env, lost.id, JobStatus.SUCCEEDED)
    assert (done.result, done.deliveries) == ({"lost": True}, 1)
    assert wait_status(sluice_env, waiting.id, JobStatus.SUCCEEDED).result == {"waiting": True}


def test_a_queued_job_whose_own_message_is_the_oldest_waiting_is_not_sent_again(
    sluice_env: SluiceEnv,
) -> None:
    """Submit stores ``sent_at`` just before the publish stamps the message: a job whose
    message is the oldest waiting must not look sent before it, however long it waited."""
    settings = sluice_env.settings
    quiet = timedelta(seconds=settings.visibility_timeout + settings.stranded_after_seconds + 60)
    job, _ = sluice_env.store.create(Job(
        kind="echo", input={"waits": True}, task_id="its-message-waits",
        sent_at=utcnow() - timedelta(seconds=0.5), updated_at=utcnow() - quiet,
    ))
    send(job, store=sluice_env.store, celery=sluice_env.celery, settings=settings, marked=True)

    assert recover(sluice_env.store, sluice_env.celery, settings) == 0
    assert sluice_env.store.get(job.id).task_id == "its-message-waits"


def test_countdown_beyond_the_visibility_timeout_is_refused(sluice_env: SluiceEnv) -> None:
    with pytest.raises(CountdownTooLong, match="VISIBILITY_TIMEOUT"):
        submit(
            "echo", {}, store=sluice_env.store, celery=sluice_env.celery,
            settings=sluice_env.settings, countdown=sluice_env.settings.visibility_timeout + 1,
        )
    assert sluice_env.store.list_jobs().items == []


def test_worker_refuses_to_start_when_time_limit_outlasts_visibility(
    sluice_env: SluiceEnv,
) -> None:
    env = {**sluice_env.env, "SLUICE_VISIBILITY_TIMEOUT": "5", "SLUICE_TASK_TIME_LIMIT": "10",
           "SLUICE_TASK_SOFT_TIME_LIMIT": "9"}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "worker", "--pool", "solo"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "SLUICE_VISIBILITY_TIMEOUT" in result.stdout + result.stderr


def test_worker_refuses_prefetch_above_one_on_long_queues(sluice_env: SluiceEnv) -> None:
    script = (
        "from cli.worker_app import app\n"
        "app.worker_main(['worker', '--pool=solo', '--queues=gpu', '--prefetch-multiplier=4'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=sluice_env.env, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "prefetch" in result.stdout + result.stderr


def test_a_store_unreachable_when_the_result_is_written_retries_instead_of_dead_lettering(
    sluice_env: SluiceEnv,
) -> None:
    sluice_env.worker()
    job = submit_job(sluice_env, "test.election_at_success", {})
    done = wait_status(sluice_env, job.id, JobStatus.SUCCEEDED, JobStatus.DEAD)
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert done.result == {"delivery": 2}  # the message came back and the work ran again
