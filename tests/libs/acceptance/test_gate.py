"""The verdict: accepted only when every check passed, values in the source's spelling."""

from __future__ import annotations

from datetime import date

from libs.acceptance import (
    SourceView,
    agree,
    correctable,
    decide,
    field_rules,
    verify,
)
from schemas.acceptance import AcceptanceVerdict, Check
from schemas.support_ticket import SupportTicket
from tests.libs.acceptance.test_evidence import BODY, EVIDENCE, HEADERS, RECORD

RULES = field_rules(SupportTicket)
VIEW = SourceView.of(BODY, headers=HEADERS)


def test_a_verified_and_agreed_record_is_accepted_in_the_source_spelling() -> None:
    checks = verify(RECORD, EVIDENCE, VIEW, RULES, date(2025, 3, 10))
    checks += agree([RECORD] * 3, RULES)
    verdict = decide(SupportTicket, RECORD, EVIDENCE, VIEW, checks, RULES)
    assert verdict.accepted
    assert verdict.record == {**RECORD, "customer_email": "Maria.Lopez@example.com"}
    assert verdict.source == VIEW.text and verdict.regions == list(VIEW.regions)
    assert verdict.evidence == EVIDENCE


def test_any_failed_check_refuses_and_keeps_the_candidate() -> None:
    evidence = {**EVIDENCE, "order_id": "Your earlier order 99999"}
    record = {**RECORD, "order_id": "99999"}
    checks = verify(record, evidence, VIEW, RULES, date(2025, 3, 10))
    verdict = decide(SupportTicket, record, evidence, VIEW, checks, RULES)
    assert not verdict.accepted
    assert [c.field for c in verdict.failed] == ["order_id"]
    assert verdict.record is not None and verdict.record["order_id"] == "99999"


def test_the_verdict_round_trips_as_json() -> None:
    checks = verify(RECORD, EVIDENCE, VIEW, RULES, date(2025, 3, 10))
    verdict = decide(SupportTicket, RECORD, EVIDENCE, VIEW, checks, RULES)
    again = AcceptanceVerdict.model_validate(verdict.to_json())
    assert again == verdict
    assert verdict.to_json()["checks"][0]["span"] == list(checks[0].span or ())


def test_only_quote_failures_are_correctable() -> None:
    def failed(name: str) -> Check:
        return Check(field="x", check=name, ok=False, detail="")

    assert correctable([failed("evidence_not_found"), failed("region_not_allowed")])
    assert correctable([failed("evidence_mismatch"), failed("not_grounded")])
    assert not correctable([failed("evidence_mismatch"), failed("ambiguous")])
    assert not correctable([failed("disagreement")])
    assert not correctable([])
