"""Per-field acceptance metadata: declared on the model, with defaults for models without it."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, EmailStr, Field, StringConstraints

from libs.acceptance.fields import (
    DEFAULT_REGIONS,
    InvalidAcceptanceMetadata,
    acceptance,
    field_rules,
)
from schemas.acceptance import RegionKind
from schemas.support_ticket import SupportTicket

K = RegionKind


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Invoice(BaseModel):
    """A user's model with no acceptance metadata at all."""

    number: Annotated[str, StringConstraints(pattern=r"^INV-[0-9]{4}$")]
    email: EmailStr
    issued: date
    paid_at: datetime | None = None
    total: float
    lines: int
    status: Literal["open", "paid"]
    colour: Colour
    urgent: bool
    vendor: str
    summary: str
    tags: list[str] = Field(default_factory=list)


def test_a_model_without_metadata_gets_the_defaults() -> None:
    rules = field_rules(Invoice)
    kinds = {name: rule.kind for name, rule in rules.items()}
    assert kinds == {
        "number": "id", "email": "email", "issued": "date", "paid_at": "date",
        "total": "number", "lines": "number", "status": "enum", "colour": "enum",
        "urgent": "enum", "vendor": "string", "summary": "free_text", "tags": "free_text",
    }
    for name in ("number", "email", "issued", "total", "lines", "vendor"):
        assert rules[name].evidence and rules[name].agree == 1, name
    for name in ("status", "colour", "urgent", "summary", "tags"):
        assert not rules[name].evidence and rules[name].agree == 3, name
    assert rules["vendor"].regions == DEFAULT_REGIONS == {K.AUTHOR, K.HEADER}
    assert rules["issued"].regions == {K.AUTHOR}  # the header's date is the message's own
    assert rules["number"].pattern == "^INV-[0-9]{4}$"
    assert rules["paid_at"].nullable and not rules["issued"].nullable


def test_declared_metadata_overrides_only_what_it_names() -> None:
    class Order(BaseModel):
        note: str = Field(json_schema_extra=acceptance(evidence=True, agree=1))
        label: Literal["a", "b"] = Field(json_schema_extra=acceptance(agree=5))
        sender: str = Field(json_schema_extra=acceptance(regions=["header"], kind="email"))

    rules = field_rules(Order)
    assert (rules["note"].kind, rules["note"].evidence, rules["note"].agree) == (
        "free_text", True, 1)
    assert rules["label"].agree == 5 and not rules["label"].evidence
    assert rules["sender"].kind == "email" and rules["sender"].regions == {K.HEADER}


def test_support_ticket_declares_its_fields() -> None:
    rules = field_rules(SupportTicket)
    assert rules["customer_email"].regions == {K.AUTHOR, K.HEADER, K.SIGNATURE}
    assert rules["customer_name"].regions == {K.AUTHOR, K.HEADER, K.SIGNATURE}
    assert rules["order_id"].regions == {K.AUTHOR, K.HEADER}
    assert rules["order_date"].regions == {K.AUTHOR}
    assert (rules["issue_type"].kind, rules["issue_type"].agree) == ("enum", 3)
    assert rules["order_id"].kind == "id" and rules["customer_email"].kind == "email"
    assert rules["issue_type"].fallback == "general_inquiry"
    assert "refund" in rules["issue_type"].cues_of("refund_request")
    assert rules["issue_type"].cues_of("general_inquiry") == ()
    assert "order" in rules["order_date"].quote_cues


@pytest.mark.parametrize("bad", [
    {"regions": ["footer"]}, {"agree": 0}, {"kind": "colour"}, {"cues": {"a": "word"}},
    {"cues": {"a": [""]}}, {"quote_cues": "order"},
])
def test_bad_metadata_is_refused_when_read(bad: dict[str, object]) -> None:
    class Bad(BaseModel):
        x: str = Field(json_schema_extra={"acceptance": bad})

    with pytest.raises(InvalidAcceptanceMetadata):
        field_rules(Bad)


def test_the_helper_refuses_an_unknown_region() -> None:
    with pytest.raises(ValueError):
        acceptance(regions=["footer"])
