"""Dead-letter actions on the store: requeue, discard, resolve; dead and claimed alike."""

from __future__ import annotations

import pytest

from libs.dead_letter import actions as dead_letter
from libs.sinks.push import DELIVER_KIND, delivery_key
from schemas.job import DeadReason, IllegalTransition, Job, JobStatus
from sluice.stores import ConcurrentUpdate, JobQuery
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import TICKET_TEXT, VALID_TICKET


def dead_job(env: SluiceEnv, status: JobStatus = JobStatus.DEAD) -> Job:
    job = Job(
        kind="extract",
        input={"schema": "support_ticket", "text": TICKET_TEXT},
        status=status,
        reason=DeadReason.EXHAUSTED,
        schema_name="support_ticket",
        schema_version=1,
        error_signature="order_id:string_pattern_mismatch",
        attempts=[{"number": 1, "outcome": "invalid"}],
        claimed_by="ana" if status is JobStatus.CLAIMED else None,
    )
    stored, _ = env.store.create(job)
    return stored


def test_error_signature_is_the_sorted_distinct_loc_type_pairs() -> None:
    errors = [
        {"loc": ("order_id",), "type": "string_pattern_mismatch", "input": "1"},
        {"loc": ("customer_email",), "type": "not_in_source", "input": "x@y.z"},
        {"loc": ("order_id",), "type": "string_pattern_mismatch", "input": "2"},
        {"loc": (), "type": "json_invalid"},
    ]
    assert dead_letter.error_signature(errors) == (
        "$:json_invalid|customer_email:not_in_source|order_id:string_pattern_mismatch"
    )
    assert dead_letter.error_signature(reversed(errors)) == dead_letter.error_signature(errors)


@pytest.mark.parametrize("status", [JobStatus.DEAD, JobStatus.CLAIMED])
def test_requeue_starts_a_new_job_and_keeps_the_old_one(sluice_env: SluiceEnv,
                                                       status: JobStatus) -> None:
    old = dead_job(sluice_env, status)
    new = dead_letter.requeue(
        sluice_env.store, sluice_env.celery, sluice_env.settings, old.id,
        hint="the order id is in the subject", by="ana",
    )
    assert new.id != old.id
    assert new.redriven_from == old.id
    assert new.status is JobStatus.QUEUED and new.sent_at is not None
    assert new.attempts == []
    assert new.input["reviewer_hint"] == "the order id is in the subject"
    closed = sluice_env.store.get(old.id)
    assert closed.status is JobStatus.REQUEUED
    assert closed.redriven_to == new.id
    assert closed.attempts == old.attempts
    assert closed.claimed_by is None
    assert closed.audit[-1].action == "requeue" and closed.audit[-1].by == "ana"


def test_requeue_with_an_edited_input(sluice_env: SluiceEnv) -> None:
    old = dead_job(sluice_env)
    edited = {"schema": "support_ticket", "text": TICKET_TEXT + " Order 48213."}
    new = dead_letter.requeue(sluice_env.store, sluice_env.celery, sluice_env.settings, old.id,
                              input=edited)
    assert new.input == edited


def test_a_job_cannot_be_requeued_twice(sluice_env: SluiceEnv) -> None:
    old = dead_job(sluice_env)
    dead_letter.requeue(sluice_env.store, sluice_env.celery, sluice_env.settings, old.id)
    with pytest.raises(IllegalTransition):
        dead_letter.requeue(sluice_env.store, sluice_env.celery, sluice_env.settings, old.id)
    assert sluice_env.store.count(JobQuery(kind="extract", statuses=(JobStatus.QUEUED,))) == 1


def test_a_stale_version_is_refused(sluice_env: SluiceEnv) -> None:
    old = dead_job(sluice_env)
    with pytest.raises(ConcurrentUpdate):
        dead_letter.discard(sluice_env.store, old.id, reason="spam",
                            expected_version=old.version + 1)
    assert sluice_env.store.get(old.id).status is JobStatus.DEAD


def test_discard_needs_a_reason_and_keeps_it(sluice_env: SluiceEnv) -> None:
    old = dead_job(sluice_env, JobStatus.CLAIMED)
    with pytest.raises(dead_letter.MissingReason):
        dead_letter.discard(sluice_env.store, old.id, reason="  ")
    done = dead_letter.discard(sluice_env.store, old.id, reason="spam", by="ana")
    assert done.status is JobStatus.DISCARDED
    last = done.audit[-1].model_dump()
    assert last == {**last, "action": "discard", "reason": "spam", "by": "ana"}


def test_an_invalid_resolution_is_refused_with_field_errors(sluice_env: SluiceEnv) -> None:
    old = dead_job(sluice_env)
    with pytest.raises(dead_letter.InvalidResolution) as refused:
        dead_letter.resolve(sluice_env.store, sluice_env.celery, sluice_env.settings, old.id,
                            {**VALID_TICKET, "order_id": "12", "issue_type": "other"})
    assert {(tuple(e["loc"]), e["type"]) for e in refused.value.errors} == {
        (("order_id",), "string_pattern_mismatch"), (("issue_type",), "enum"),
    }
    assert refused.value.errors[0]["input"] in {"12", "other"}
    assert sluice_env.store.get(old.id).status is JobStatus.DEAD


def test_resolve_keeps_the_record_and_queues_each_sink_delivery_once(
    sluice_env: SluiceEnv,
) -> None:
    old = dead_job(sluice_env, JobStatus.CLAIMED)
    record = {**VALID_TICKET, "order_id": "99999"}  # a person may know better than the source
    args = (sluice_env.store, sluice_env.celery, sluice_env.settings, old.id, record)
    resolved = dead_letter.resolve(*args, by="ana", expected_version=old.version)
    assert resolved.status is JobStatus.RESOLVED
    assert resolved.result == record
    assert resolved.sink_deliveries["records"].status == "pending"
    again = dead_letter.resolve(*args, by="ana")  # a repeat only makes sure it is queued
    assert again.status is JobStatus.RESOLVED
    deliveries = list(sluice_env.store.iter_jobs(JobQuery(kind=DELIVER_KIND)))
    assert len(deliveries) == 1
    assert deliveries[0].idempotency_key == delivery_key(old.id, "records")
    assert deliveries[0].input["record"] == record
    with pytest.raises(IllegalTransition):
        dead_letter.resolve(*args[:-1], {**record, "customer_name": "Someone Else"})


def test_a_job_without_a_schema_cannot_be_resolved(sluice_env: SluiceEnv) -> None:
    job, _ = sluice_env.store.create(
        Job(kind="echo", status=JobStatus.DEAD, reason=DeadReason.POISON)
    )
    with pytest.raises(dead_letter.NotResolvable):
        dead_letter.resolve(sluice_env.store, sluice_env.celery, sluice_env.settings, job.id, {})
