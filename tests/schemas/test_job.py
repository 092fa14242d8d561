import itertools

import pytest

from schemas.job import (
    DEAD_LETTERED,
    SETTLED,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Job,
    JobStatus,
    check_transition,
)


def test_terminal_states_have_no_way_out() -> None:
    assert {
        JobStatus.SUCCEEDED,
        JobStatus.RESOLVED,
        JobStatus.REQUEUED,
        JobStatus.DISCARDED,
        JobStatus.CANCELLED,
    } == TERMINAL
    for status in TERMINAL:
        for target in JobStatus:
            with pytest.raises(IllegalTransition):
                check_transition("j", status, target)


def test_every_status_has_a_rule() -> None:
    assert set(TRANSITIONS) == set(JobStatus)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobStatus.QUEUED, JobStatus.SUCCEEDED),
        (JobStatus.RUNNING, JobStatus.CANCELLED),
        (JobStatus.RUNNING, JobStatus.QUEUED),
        (JobStatus.DEAD, JobStatus.RUNNING),
        (JobStatus.SUCCEEDED, JobStatus.DEAD),
    ],
)
def test_backward_or_skipping_moves_are_illegal(current: JobStatus, target: JobStatus) -> None:
    with pytest.raises(IllegalTransition) as raised:
        check_transition("job-1", current, target)
    assert raised.value.current is current
    assert raised.value.target is target
    assert "job-1" in str(raised.value)


def test_the_designed_paths_are_legal() -> None:
    paths = [
        [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED],
        [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING, JobStatus.RUNNING],
        [JobStatus.RUNNING, JobStatus.DEAD, JobStatus.CLAIMED, JobStatus.RESOLVED],
        [JobStatus.DEAD, JobStatus.CLAIMED, JobStatus.DEAD, JobStatus.DISCARDED],
        [JobStatus.RETRYING, JobStatus.CANCELLED],
    ]
    for path in paths:
        for current, target in itertools.pairwise(path):
            check_transition("j", current, target)


def test_a_new_job_is_queued_with_a_fresh_id() -> None:
    first, second = Job(kind="echo"), Job(kind="echo")
    assert first.status is JobStatus.QUEUED
    assert first.id != second.id
    assert first.version == 0


def test_settled_is_terminal_plus_the_dead_letter_queue() -> None:
    assert TERMINAL | {JobStatus.DEAD, JobStatus.CLAIMED} == SETTLED
    assert {JobStatus.DEAD, JobStatus.CLAIMED} == DEAD_LETTERED
    # A settled job leaves only by a person's action: no move of a worker starts from it.
    worker_moves = {JobStatus.RUNNING, JobStatus.RETRYING, JobStatus.SUCCEEDED}
    assert all(not (TRANSITIONS[status] & worker_moves) for status in SETTLED)
    assert Job(kind="echo", status=JobStatus.CLAIMED).settled
    assert not Job(kind="echo", status=JobStatus.RETRYING).settled
