"""Enum labels grounded by the cue words their schema declares."""

from __future__ import annotations

import pytest

from libs.acceptance.evidence import verify
from libs.acceptance.fields import field_rules
from libs.acceptance.regions import SourceView
from schemas.support_ticket import SupportTicket

RULES = {"issue_type": field_rules(SupportTicket)["issue_type"]}


def label(text: str, value: str, **kwargs: object) -> tuple[str, bool, str]:
    view = SourceView.of(text, **kwargs)  # type: ignore[arg-type]
    [check] = verify({"issue_type": value}, {}, view, RULES, None)
    return check.check, check.ok, check.detail


@pytest.mark.parametrize(("text", "value"), [
    ("My order 48213 arrived with a cracked screen.", "product_defect"),
    ("Please refund order 48213.", "refund_request"),
    ("I want my money back for 48213.", "refund_request"),
    ("The parcel for 48213 never arrived.", "delivery_issue"),
    ("Das Gerät ist kaputt.", "product_defect"),
    ("Je voudrais être remboursé.", "refund_request"),
    ("Mi paquete no ha llegado.", "delivery_issue"),
    ("Il prodotto non funziona.", "product_defect"),
    ("Quero o dinheiro de volta.", "refund_request"),
    ("Mijn pakket is niet aangekomen.", "delivery_issue"),
    ("What are your opening hours?", "general_inquiry"),
])
def test_a_label_with_a_cue_in_the_senders_words_is_grounded(text: str, value: str) -> None:
    assert label(text, value)[:2] == ("verified", True)


def test_the_first_enum_value_without_a_cue_is_not_grounded() -> None:
    check, ok, detail = label("My order 48213 arrived with a cracked screen.", "refund_request")
    assert (check, ok) == ("not_grounded", False) and "refund_request" in detail


def test_the_catch_all_label_needs_no_cue() -> None:
    check, ok, detail = label("Can I still change the delivery address?", "general_inquiry")
    assert (check, ok) == ("verified", True) and "agreement" in detail


@pytest.mark.parametrize(("text", "plainly"), [
    ("My parcel never arrived. What now?", "delivery_issue"),
    ("The lamp arrived broken, can you help?", "product_defect"),
    ("I would like a refund, please.", "refund_request"),
    ("Das Paket ist nicht angekommen.", "delivery_issue"),
])
def test_the_catch_all_label_is_refused_when_the_sender_says_plainly_what_it_is(
    text: str, plainly: str
) -> None:
    check, ok, detail = label(text, "general_inquiry")
    assert (check, ok) == ("not_grounded", False) and plainly in detail


def test_a_cue_in_a_quoted_reply_does_not_ground_a_label() -> None:
    text = ("Any news?\n\nOn Mon, 3 Mar 2025, Shop <s@x.example> wrote:\n"
            "> Your refund is on its way.")
    assert label(text, "refund_request")[1] is False


def test_a_cue_matches_at_the_start_of_a_word_only() -> None:
    assert label("The unbroken seal is fine, what now?", "product_defect")[1] is False
    assert label("It is brokenish.", "product_defect")[1] is True


def test_the_verified_check_points_at_the_cue() -> None:
    view = SourceView.of("Hello. The screen is Cracked.", kind="text")
    [check] = verify({"issue_type": "product_defect"}, {}, view, RULES, None)
    assert check.span is not None and view.text[check.span[0]:check.span[1]] == "Cracked"


def test_a_label_without_declared_cues_is_left_to_agreement() -> None:
    from typing import Literal

    from pydantic import BaseModel

    class Plain(BaseModel):
        kind: Literal["a", "b"]

    view = SourceView.of("nothing", kind="text")
    assert verify({"kind": "a"}, {}, view, field_rules(Plain), None) == []
