"""A worker SIGKILLed between attempts: the redelivered job resumes at attempt k."""

from __future__ import annotations

import pytest

from schemas.job import JobStatus
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import (
    extraction_env,
    settled,
    submit_extract,
    ticket,
    valid_reply,
    verified_reply,
)
from tests.support.polling import wait_for
from tests.support.scripted_llm import Reply, ScriptedLLM


@pytest.mark.slow
def test_a_killed_worker_resumes_at_the_next_attempt_and_pays_for_nothing_twice(
    sluice_env: SluiceEnv,
) -> None:
    with ScriptedLLM() as llm, extraction_env(sluice_env, llm, llm_timeout_seconds=30) as env:
        first = env.worker(queues="gpu,io", concurrency=1)
        # Attempt 1 is invalid; attempt 2 hangs until the worker is gone.
        llm.enqueue(Reply(content=ticket(order_id="4821")), Reply(content=ticket(), delay=25))
        job_id = submit_extract(env).id

        def attempt_two_in_flight() -> bool:
            return len(env.store.get(job_id).attempts) == 1 and len(llm.requests) == 2

        wait_for(attempt_two_in_flight, timeout=20, what="attempt 2 to be in flight")
        first.kill()
        llm.enqueue(valid_reply())
        env.worker(queues="gpu,io", concurrency=1)
        job = settled(env, job_id, timeout=40)

    assert job.status is JobStatus.SUCCEEDED
    assert job.deliveries == 2
    assert [(a.number, a.outcome) for a in job.attempts] == [(1, "invalid"), (2, "valid")]
    # Attempt 1 was not paid for again: the resumed delivery sent a correction, not the
    # first prompt, and exactly one request more than the killed run.
    assert len(llm.requests) == 3
    assert llm.requests[2]["messages"] == llm.requests[1]["messages"]
    assert len(llm.requests[2]["messages"]) == 4
    assert job.attempts[1].messages_hash != job.attempts[0].messages_hash


@pytest.mark.slow
def test_a_killed_worker_resumes_the_agreement_samples_it_has_not_drawn(
    sluice_env: SluiceEnv,
) -> None:
    with ScriptedLLM() as llm, extraction_env(
        sluice_env, llm, llm_timeout_seconds=30, acceptance="verified"
    ) as env:
        first = env.worker(queues="gpu,io", concurrency=1)
        # The record verifies, sample 1 agrees, sample 2 hangs until the worker is gone.
        llm.enqueue(verified_reply(), verified_reply(),
                    Reply(content=verified_reply().content, delay=25))
        job_id = submit_extract(env).id

        def sample_two_in_flight() -> bool:
            return len(env.store.get(job_id).attempts) == 2 and len(llm.requests) == 3

        wait_for(sample_two_in_flight, timeout=20, what="sample 2 to be in flight")
        first.kill()
        llm.enqueue(verified_reply())
        env.worker(queues="gpu,io", concurrency=1)
        job = settled(env, job_id, timeout=40)

    assert job.status is JobStatus.SUCCEEDED, (job.error, job.acceptance)
    samples = [attempt.sample for attempt in job.attempts]
    assert samples == [False, True, True]
    # Neither the record nor sample 1 was paid for again: one request more than the kill.
    assert len(llm.requests) == 4
    # The resumed sample 2 is the killed one asked again (the same enum order).
    assert llm.requests[3]["messages"] == llm.requests[2]["messages"]
    assert llm.requests[3]["messages"] != llm.requests[1]["messages"]
