"""Agreement: labels and free text are accepted only when k samples agree."""

from __future__ import annotations

from libs.acceptance.agreement import agree, samples_needed
from libs.acceptance.fields import field_rules
from schemas.support_ticket import SupportTicket
from tests.libs.acceptance.test_fields import Invoice

RULES = field_rules(SupportTicket)


def test_three_equal_labels_agree() -> None:
    samples = [{"issue_type": "refund_request"}] * 3
    [check] = agree(samples, RULES)
    assert (check.field, check.check, check.ok, check.value) == (
        "issue_type", "verified", True, "refund_request")


def test_one_different_label_is_a_disagreement() -> None:
    samples = [{"issue_type": "refund_request"}, {"issue_type": "refund_request"},
               {"issue_type": "delivery_issue"}]
    [check] = agree(samples, RULES)
    assert (check.check, check.ok) == ("disagreement", False)
    assert "delivery_issue" in check.detail


def test_a_failed_sample_counts_against_agreement() -> None:
    [check] = agree([{"issue_type": "refund_request"}, None, {"issue_type": "refund_request"}],
                    RULES)
    assert check.check == "disagreement" and "only 2 of 3" in check.detail


def test_too_few_samples_do_not_agree() -> None:
    [check] = agree([{"issue_type": "refund_request"}], RULES)
    assert not check.ok


def test_fields_settled_by_evidence_are_not_sampled() -> None:
    assert {c.field for c in agree([{}, {}, {}], RULES)} == {"issue_type"}


def test_free_text_agrees_by_similarity_and_lists_by_value() -> None:
    rules = {name: rule for name, rule in field_rules(Invoice).items()
             if name in ("summary", "tags")}
    close = [{"summary": "The lamp arrived broken.", "tags": ["a"]},
             {"summary": "the lamp arrived broken", "tags": ["a"]},
             {"summary": "The lamp arrived  broken!", "tags": ["a"]}]
    assert all(c.ok for c in agree(close, rules))
    apart = [dict(close[0], summary="Refund for a late parcel", tags=["b"]), *close[1:]]
    assert not any(c.ok for c in agree(apart, rules))


def test_samples_needed_is_the_largest_k() -> None:
    assert samples_needed(RULES) == 3
    assert samples_needed({}) == 1
