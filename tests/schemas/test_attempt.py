"""The job's ledger is typed: attempts, sink deliveries and audit entries load from rows."""

from __future__ import annotations

from schemas.attempt import Attempt, AttemptOutcome
from schemas.job import AuditEntry, Job, SinkDelivery, SinkDeliveryStatus


def test_a_job_round_trips_its_typed_ledger_through_json() -> None:
    job = Job(
        kind="extract",
        attempts=[Attempt(number=1, model="m", outcome=AttemptOutcome.VALID, record={"a": 1})],
        sink_deliveries={"jsonl": SinkDelivery(status=SinkDeliveryStatus.DELIVERED, attempts=1)},
        audit=[AuditEntry(action="discard", by="ana", reason="spam")],
    )
    again = Job.model_validate_json(job.model_dump_json())
    assert again == job
    assert isinstance(again.attempts[0], Attempt) and again.attempts[0].record == {"a": 1}


def test_rows_written_as_plain_dicts_still_load() -> None:
    job = Job.model_validate({
        "kind": "extract",
        "attempts": [{"number": 1, "outcome": "invalid", "prompt_tokens": 3,
                      "errors": [{"loc": ["order_id"], "type": "t", "msg": "m", "input": "4"}]}],
        "sink_deliveries": {"records": {"status": "pending", "attempts": 0,
                                        "queued_at": "2026-01-02T03:04:05+00:00"}},
        "audit": [{"action": "requeue", "by": None, "at": "2026-01-02T03:04:05.123456+00:00",
                   "redriven_to": "j2", "hint": None, "input_edited": False}],
    })
    assert job.attempts[0].errors[0].loc == ["order_id"] and job.attempts[0].tokens == 3
    assert job.sink_deliveries["records"].status is SinkDeliveryStatus.PENDING
    assert job.audit[0].redriven_to == "j2"


def test_older_attempt_keys_are_mapped_onto_todays() -> None:
    job = Job.model_validate({"kind": "extract", "attempts": [
        {"raw": "{}", "validation_errors": [{"loc": ["x"], "type": "missing"}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 2}},
        {"raw": "not json"},
    ]})
    first, second = job.attempts
    assert (first.number, first.raw_text, first.outcome) == (1, "{}", AttemptOutcome.INVALID)
    assert (first.errors[0].type, first.prompt_tokens, first.completion_tokens) == ("missing", 5, 2)
    assert (second.number, second.outcome) == (2, AttemptOutcome.PARSE_ERROR)
