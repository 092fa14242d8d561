"""Scheduled jobs: held in the store (status ``scheduled``), released by the due sweep when
``run_at`` comes, however far past the broker's visibility timeout, and cancellable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.job import IllegalTransition, JobStatus, utcnow
from sluice.due import sweep_due
from sluice.enqueue import submit
from tests.conftest import SluiceEnv
from tests.support.polling import wait_for


def test_a_scheduled_job_waits_in_the_store_and_is_released_when_due(
    sluice_env: SluiceEnv,
) -> None:
    env = sluice_env
    run_at = utcnow() + timedelta(seconds=0.5)
    job, _ = submit("echo", {}, store=env.store, celery=env.celery, settings=env.settings,
                    run_at=run_at)
    assert job.status is JobStatus.SCHEDULED and job.sent_at is None
    assert job.wake_at == run_at
    assert sweep_due(env.store, env.celery, env.settings) == 0  # not yet

    wait_for(lambda: sweep_due(env.store, env.celery, env.settings), timeout=10,
             what="the sweep to release the job")

    released = env.store.get(job.id)
    assert released.status is JobStatus.QUEUED and released.sent_at is not None
    assert released.sent_at >= run_at and released.wake_at is None
    assert sweep_due(env.store, env.celery, env.settings) == 0  # released once


def test_a_scheduled_job_cancelled_while_it_waits_never_runs(sluice_env: SluiceEnv) -> None:
    env = sluice_env
    job, _ = submit("echo", {}, store=env.store, celery=env.celery, settings=env.settings,
                    run_at=utcnow() + timedelta(seconds=0.2))
    cancelled = env.store.cancel(job.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.wake_at is None
    wait_for(lambda: utcnow() > job.run_at + timedelta(seconds=0.1) if job.run_at else True,
             timeout=5, what="the job's time to pass")
    assert sweep_due(env.store, env.celery, env.settings) == 0
    assert env.store.get(job.id).status is JobStatus.CANCELLED
    with pytest.raises(IllegalTransition):
        env.store.transition(job.id, JobStatus.QUEUED)


def test_a_run_at_in_the_past_queues_the_job_at_once(sluice_env: SluiceEnv) -> None:
    env = sluice_env
    job, _ = submit("echo", {}, store=env.store, celery=env.celery, settings=env.settings,
                    run_at=utcnow() - timedelta(hours=1))
    assert job.status is JobStatus.QUEUED and job.sent_at is not None


@pytest.mark.slow
def test_a_job_scheduled_past_the_visibility_timeout_runs_on_time(
    sluice_env: SluiceEnv,
) -> None:
    env = sluice_env
    env.worker(pool="threads")
    ahead = env.settings.visibility_timeout + 3  # a broker countdown this long is refused
    run_at = utcnow() + timedelta(seconds=ahead)
    job, _ = submit("echo", {"when": "later"}, store=env.store, celery=env.celery,
                    settings=env.settings, run_at=run_at)

    def finished() -> object:
        found = env.store.get(job.id)
        return found if found.status is JobStatus.SUCCEEDED else None

    done = wait_for(finished, timeout=ahead + 30, what="the scheduled job to run")
    assert done.started_at is not None
    late = (done.started_at - run_at).total_seconds()
    print(f"\nscheduled {ahead:g} s ahead (visibility timeout "
          f"{env.settings.visibility_timeout:g} s): started {late:.2f} s after run_at")
    assert done.started_at >= run_at  # never early
    # On time: within one due-sweep interval and a delivery's round trip.
    assert late < env.settings.due_sweep_seconds + 2
    assert done.deliveries == 1 and done.result == {"when": "later"}
