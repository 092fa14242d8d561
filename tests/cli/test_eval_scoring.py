"""The scoring rules of `sluice eval`, case by case, without a pipeline."""

from __future__ import annotations

import json

import pytest

from cli.eval_scoring import (
    BadCaseFile,
    EvalCase,
    Outcome,
    cases_from_export,
    parse_cases,
    report_json,
    report_text,
    score_case,
    summarise,
    wrong_fields,
)

GOLD = {
    "customer_email": "Ana.Lima@example.com",
    "order_id": "55210",
    "issue_type": "product_defect",
    "order_date": "2025-10-02",
    "customer_name": "Ana Lima",
}


def case(gold: dict[str, object] | None = GOLD, **changes: object) -> EvalCase:
    line = {"id": "c1", "schema": "support_ticket", "text": "hello", "gold": gold, **changes}
    return EvalCase.model_validate(line)


def test_a_succeeded_job_with_the_gold_record_is_correct() -> None:
    result = score_case(case(), job_id="j", status="succeeded", settled=True, result=dict(GOLD))
    assert result.outcome is Outcome.CORRECT
    assert result.wrong_fields == []


def test_a_changed_case_of_the_email_is_a_false_accept() -> None:
    record = {**GOLD, "customer_email": "ana.lima@example.com"}
    result = score_case(case(), job_id="j", status="succeeded", settled=True, result=record)
    assert result.outcome is Outcome.FALSE_ACCEPT
    assert result.wrong_fields == ["customer_email"]


def test_any_accept_of_a_case_without_gold_is_a_false_accept() -> None:
    result = score_case(case(None), job_id="j", status="succeeded", settled=True, result=GOLD)
    assert result.outcome is Outcome.FALSE_ACCEPT


def test_a_dead_job_was_sent_to_review_with_its_failed_checks() -> None:
    acceptance = {"checks": [
        {"field": "order_id", "check": "region_not_allowed", "ok": False},
        {"field": "customer_email", "check": "evidence_not_found", "ok": True},
    ]}
    result = score_case(case(None), job_id="j", status="dead", settled=True,
                        reason="unverified", acceptance=acceptance)
    assert result.outcome is Outcome.REVIEW
    assert result.failed_checks == ["order_id:region_not_allowed"]


def test_a_job_still_running_at_the_deadline_is_unsettled() -> None:
    result = score_case(case(), job_id="j", status="running", settled=False)
    assert result.outcome is Outcome.UNSETTLED


def test_whitespace_is_collapsed_but_nothing_else_is_forgiven() -> None:
    assert wrong_fields(GOLD, {**GOLD, "customer_name": " Ana  Lima "}) == []
    assert wrong_fields(GOLD, {**GOLD, "customer_name": "ana lima"}) == ["customer_name"]
    assert wrong_fields(GOLD, {k: v for k, v in GOLD.items() if k != "order_id"}) == [
        "order_id"
    ]


def test_tokens_count_every_attempt_and_sample() -> None:
    attempts = [
        {"prompt_tokens": 100, "completion_tokens": 20, "outcome": "invalid"},
        {"prompt_tokens": 110, "completion_tokens": 25, "outcome": "valid"},
        {"prompt_tokens": 110, "completion_tokens": 25, "outcome": "valid", "sample": True},
    ]
    result = score_case(case(), job_id="j", status="succeeded", settled=True, result=GOLD,
                        attempts=attempts)
    assert result.tokens == 390
    assert result.attempts == 3


def test_summary_rates_and_tokens_per_accepted_record() -> None:
    cases = [case(id="a"), case(id="b"), case(None, id="c"), case(id="d")]
    results = [
        score_case(cases[0], job_id="1", status="succeeded", settled=True, result=GOLD,
                   attempts=[{"prompt_tokens": 100, "completion_tokens": 0}]),
        score_case(cases[1], job_id="2", status="dead", settled=True,
                   attempts=[{"prompt_tokens": 300, "completion_tokens": 0}]),
        score_case(cases[2], job_id="3", status="succeeded", settled=True, result=GOLD,
                   attempts=[{"prompt_tokens": 100, "completion_tokens": 0}]),
        score_case(cases[3], job_id="4", status="succeeded", settled=True,
                   result={**GOLD, "order_id": "55211"},
                   attempts=[{"prompt_tokens": 100, "completion_tokens": 0}]),
    ]
    summary = summarise(results, golds=3)
    assert (summary.correct, summary.false_accepts, summary.review) == (1, 2, 1)
    assert summary.automation_rate == pytest.approx(1 / 3, abs=1e-4)
    # 600 tokens spent in all, 3 records accepted automatically (right or wrong).
    assert summary.tokens_per_accepted == 200.0
    text = report_text(results, summary)
    assert "false accepts          2" in text and "wrong: order_id" in text
    report = report_json(results, summary, file="x.jsonl")
    assert report["summary"]["false_accepts"] == 2
    assert [c["outcome"] for c in report["cases"]] == [
        "correct", "review", "false_accept", "false_accept"
    ]
    json.dumps(report)


def test_a_case_holds_exactly_one_document() -> None:
    with pytest.raises(BadCaseFile, match="line 2"):
        parse_cases([
            json.dumps({"id": "a", "schema": "s", "text": "t", "gold": None}),
            json.dumps({"id": "b", "schema": "s", "gold": None}),
        ])


def test_case_ids_are_unique() -> None:
    line = json.dumps({"id": "a", "schema": "s", "text": "t", "gold": None})
    with pytest.raises(BadCaseFile, match="used twice"):
        parse_cases([line, "", line])


def test_the_job_input_carries_the_document_and_its_time() -> None:
    text_case = case(received_at="2025-11-01T10:00:00+00:00")
    assert text_case.job_input() == {
        "schema": "support_ticket", "text": "hello", "received_at": "2025-11-01T10:00:00+00:00"
    }
    mail = EvalCase.model_validate(
        {"id": "m", "schema": "support_ticket", "email": "From: a@b.example\n\nhi", "gold": None}
    )
    assert mail.job_input() == {"schema": "support_ticket", "email": "From: a@b.example\n\nhi"}


def test_an_export_line_becomes_a_case_with_the_reviewers_record_as_gold() -> None:
    raw = "From: Ana <ana@example.com>\nDate: Tue, 14 Oct 2025 09:12:00 +0000\n\nOrder 55210"
    lines = [
        json.dumps({"job_id": "j1", "schema_name": "support_ticket", "source": raw,
                    "record": GOLD, "reviewer": "rita",
                    "diff_from_best": [{"field": "order_id", "from": "5521", "to": "55210"}]}),
        json.dumps({"job_id": "j2", "schema_name": "support_ticket",
                    "source": "Order 55210, from Ana", "record": GOLD}),
        json.dumps({"job_id": "j3", "source": "", "record": GOLD}),
        "",
    ]
    cases = list(cases_from_export(lines))
    assert [c["id"] for c in cases] == ["export-j1", "export-j2"]
    assert cases[0]["email"] == raw and "text" not in cases[0]
    assert cases[1]["text"] == "Order 55210, from Ana"
    assert cases[0]["gold"] == GOLD
    assert cases[0]["notes"] == "resolved by rita; the model got order_id wrong"
    parsed = parse_cases(json.dumps(c) for c in cases)
    assert parsed[0].job_input()["email"] == raw
