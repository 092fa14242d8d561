"""The worker's side of the acceptance gate, in pieces: envelope, errors, rotated enums."""

from __future__ import annotations

import json

from schemas.acceptance import Check
from schemas.support_ticket import SupportTicket
from workers.extraction.acceptance_step import envelope_schema, field_errors, split_envelope
from workers.extraction.decoding_schema import decoding_schema, with_enums_rotated
from workers.extraction.validation import judge


def test_the_envelope_asks_for_a_quote_per_evidence_field() -> None:
    record = decoding_schema(SupportTicket)
    schema = envelope_schema(record, ["order_id", "order_date"])
    assert schema["required"] == ["record", "evidence"]
    assert schema["properties"]["record"] == record
    assert schema["properties"]["evidence"]["required"] == ["order_id", "order_date"]
    assert schema["additionalProperties"] is False
    assert "acceptance" not in json.dumps(record)


def test_an_answer_without_the_envelope_is_all_record_and_no_quotes() -> None:
    assert split_envelope({"order_id": "1"}) == ({"order_id": "1"}, {})
    assert split_envelope({"record": {"a": 1}, "evidence": {"a": "q", "b": 3}}) == (
        {"a": 1}, {"a": "q"})


def test_judge_keeps_the_quotes_beside_the_validated_record() -> None:
    record = {"customer_email": "a@b.example", "order_id": "12345",
              "issue_type": "refund_request", "order_date": "2025-03-02",
              "customer_name": "Ann"}
    text = json.dumps({"record": record, "evidence": {"order_id": "order 12345"}})
    verdict = judge(SupportTicket, text, "stop", {}, envelope=True)
    assert verdict.record == record and verdict.evidence == {"order_id": "order 12345"}


def test_failed_checks_become_field_errors_with_the_quote() -> None:
    checks = [
        Check(field="order_id", check="region_not_allowed", ok=False, detail="in a quoted part",
              value="99999", quote="order 99999"),
        Check(field="order_date", check="verified", ok=True, detail="verified"),
    ]
    [error] = field_errors(checks)
    assert (error.loc, error.type, error.input) == (["order_id"], "region_not_allowed", "99999")
    assert "in a quoted part" in error.msg and "order 99999" in error.msg


def test_enums_are_rotated_for_samples_everywhere_in_the_schema() -> None:
    schema = {"properties": {"a": {"enum": ["x", "y", "z"]},
                             "b": {"items": {"enum": [1, 2]}}}}
    rotated = with_enums_rotated(schema, 1)
    assert rotated["properties"]["a"]["enum"] == ["y", "z", "x"]
    assert rotated["properties"]["b"]["items"]["enum"] == [2, 1]
    assert schema["properties"]["a"]["enum"] == ["x", "y", "z"]  # the original is untouched
    assert with_enums_rotated(schema, 6) == schema
