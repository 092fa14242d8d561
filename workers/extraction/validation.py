"""Judging one model output: parse it, then validate it with the schema and grounding context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from libs.extraction.output import parse_object
from schemas.attempt import AttemptOutcome, FieldError


@dataclass(frozen=True)
class Verdict:
    outcome: AttemptOutcome
    record: dict[str, Any] | None = None
    parse_error: str | None = None
    errors: list[FieldError] = field(default_factory=list)


def judge(
    model: type[BaseModel], text: str, finish_reason: str | None, context: dict[str, Any]
) -> Verdict:
    if finish_reason == "length":
        return Verdict(AttemptOutcome.TRUNCATED, parse_error="output cut off at max_tokens")
    try:
        data = parse_object(text)
    except ValueError as exc:
        return Verdict(AttemptOutcome.PARSE_ERROR, parse_error=str(exc)[:500])
    try:
        record = model.model_validate(data, context=context)
    except ValidationError as exc:
        return Verdict(AttemptOutcome.INVALID, errors=FieldError.from_pydantic(exc.errors()))
    return Verdict(AttemptOutcome.VALID, record=record.model_dump(mode="json"))
