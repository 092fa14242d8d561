"""Priorities with a real worker: a flood of low-priority jobs delays a high-priority one by
at most the task the worker is running when it arrives; aging bounds starvation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.job import Job, JobPriority, JobStatus, utcnow
from sluice.due import age_priorities
from sluice.enqueue import submit
from sluice.priorities import effective_priority
from tests.conftest import SluiceEnv
from tests.support.polling import wait_for

TASK_SECONDS = 0.5
FLOOD = 16


def _submit(env: SluiceEnv, kind: str, input: dict[str, object],
            priority: JobPriority) -> Job:
    job, _ = submit(kind, input, store=env.store, celery=env.celery, settings=env.settings,
                    priority=priority)
    return job


def _wait_succeeded(env: SluiceEnv, job_id: str, timeout: float) -> Job:
    def done() -> Job | None:
        job = env.store.get(job_id)
        return job if job.status is JobStatus.SUCCEEDED else None

    return wait_for(done, timeout=timeout, what=f"job {job_id} to succeed")


def _delay_behind_flood(env: SluiceEnv, probe_priority: JobPriority) -> tuple[float, int]:
    """Flood the queue with low jobs, then submit one probe: seconds until it started, and
    how many flood jobs started between its submission and its start (ahead of it)."""
    flood = [_submit(env, "test.sleep", {"seconds": TASK_SECONDS}, JobPriority.LOW)
             for _ in range(FLOOD)]
    wait_for(lambda: env.store.get(flood[0].id).status is JobStatus.RUNNING, timeout=30,
             what="the flood to start")
    probe = _submit(env, "echo", {"probe": probe_priority.value}, probe_priority)
    done = _wait_succeeded(env, probe.id, timeout=FLOOD * TASK_SECONDS + 30)
    assert done.started_at is not None
    finished = [_wait_succeeded(env, job.id, timeout=FLOOD * TASK_SECONDS + 30)
                for job in flood]  # drained, so the next measurement starts from empty
    ahead = sum(1 for job in finished if job.started_at is not None
                and probe.created_at < job.started_at < done.started_at)
    return (done.started_at - probe.created_at).total_seconds(), ahead


@pytest.mark.slow
def test_a_high_priority_job_waits_at_most_one_task_behind_a_low_flood(
    sluice_env: SluiceEnv,
) -> None:
    sluice_env.worker(pool="threads", concurrency=1)

    high, high_ahead = _delay_behind_flood(sluice_env, JobPriority.HIGH)
    low, low_ahead = _delay_behind_flood(sluice_env, JobPriority.LOW)

    print(f"\npriority: behind {FLOOD} low jobs of {TASK_SECONDS:g} s on one worker process, "
          f"a high job started after {high:.2f} s ({high_ahead} low job started ahead of "
          f"it; bound: one task, {TASK_SECONDS:g} s); a low job after {low:.2f} s "
          f"({low_ahead} ahead)")
    # At most the task the worker took just before the probe arrived runs ahead of it.
    assert high_ahead <= 1
    assert high < TASK_SECONDS + 0.5  # that task's run time, and a loaded machine's round trip
    assert low_ahead >= FLOOD - 2  # the baseline: a low probe really waits its turn
    assert low > (FLOOD - 2) * TASK_SECONDS


def test_a_queued_job_that_waited_too_long_moves_up_one_step(sluice_env: SluiceEnv) -> None:
    env = sluice_env
    job = _submit(env, "echo", {}, JobPriority.LOW)
    old = utcnow() - timedelta(seconds=env.settings.priority_aging_seconds or 0) - timedelta(1)
    env.store.update_fields(job.id, sent_at=old)
    # Pretend nobody touched it for longer than the aging period.
    current = env.store.get(job.id)
    aged = current.model_copy(update={"updated_at": old})
    env.store._replace(aged, current)  # the backend write keeps updated_at as given

    assert age_priorities(env.store, env.celery, env.settings) == 1
    moved = env.store.get(job.id)
    assert moved.priority is JobPriority.LOW  # what was asked for stays on record
    assert effective_priority(moved) is JobPriority.NORMAL
    assert moved.task_id != job.task_id  # the old message is stale now
    assert age_priorities(env.store, env.celery, env.settings) == 0  # touched: not again
