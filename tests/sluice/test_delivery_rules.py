"""The delivery decision as a pure function: run, drop a stale message, or cap a poison one."""

from __future__ import annotations

from schemas.job import DeadReason, Job, JobStatus
from sluice.delivery import decide_delivery


def job(**fields: object) -> Job:
    return Job.model_validate({"kind": "echo", "task_id": "m1", "max_deliveries": 3, **fields})


def test_the_first_delivery_runs_and_marks_the_job_running() -> None:
    decision = decide_delivery(job(), "m1")
    assert (decision.run, decision.changed, decision.why) == (True, True, "first delivery")
    assert decision.job.status is JobStatus.RUNNING
    assert decision.job.deliveries == 1
    assert decision.job.started_at is not None


def test_a_redelivery_of_a_running_job_runs_again() -> None:
    decision = decide_delivery(job(status=JobStatus.RUNNING, deliveries=1), "m1")
    assert (decision.run, decision.why) == (True, "redelivery")
    assert decision.job.deliveries == 2


def test_a_job_without_a_message_id_yet_takes_any_message() -> None:
    assert decide_delivery(job(task_id=None), "m9").run


def test_a_message_that_no_longer_speaks_for_its_job_is_dropped_unchanged() -> None:
    decision = decide_delivery(job(), "m0")
    assert (decision.run, decision.changed) == (False, False)
    assert "stale message m0" in decision.why
    assert decision.job.deliveries == 0


def test_a_finished_or_cancelled_job_is_not_run_again() -> None:
    for status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.DEAD):
        decision = decide_delivery(job(status=status), "m1")
        assert (decision.run, decision.changed) == (False, False), status
        assert decision.why == f"job is {status}"


def test_past_max_deliveries_of_one_message_the_job_is_poison() -> None:
    decision = decide_delivery(job(status=JobStatus.RUNNING, deliveries=3), "m1")
    assert (decision.run, decision.changed, decision.why) == (False, True, "poison")
    assert decision.job.status is JobStatus.DEAD
    assert decision.job.reason is DeadReason.POISON
    assert decision.job.finished_at is not None
    assert "delivered 4 times" in (decision.job.error or "")


def test_retries_do_not_count_toward_the_poison_cap() -> None:
    # Five deliveries, but four were new messages sent by retries: this message's second.
    decision = decide_delivery(job(status=JobStatus.RETRYING, deliveries=5, retries=4), "m1")
    assert decision.run and decision.job.current_message_deliveries == 2
