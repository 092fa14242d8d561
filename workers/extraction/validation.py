"""Judging one model output: parse it, then validate it with the schema and grounding context.

With ``envelope`` (acceptance mode ``verified``) the output is ``{"record": ..., "evidence":
...}``: the record is validated and the quotes are passed on, unchecked, to the gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from libs.extraction.output import parse_object
from schemas.attempt import AttemptOutcome, FieldError
from workers.extraction.acceptance_step import split_envelope


@dataclass(frozen=True)
class Verdict:
    outcome: AttemptOutcome
    record: dict[str, Any] | None = None
    parse_error: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)


def judge(
    model: type[BaseModel],
    text: str,
    finish_reason: str | None,
    context: dict[str, Any],
    *,
    envelope: bool = False,
) -> Verdict:
    if finish_reason == "length":
        return Verdict(AttemptOutcome.TRUNCATED, parse_error="output cut off at max_tokens")
    try:
        data = parse_object(text)
    except ValueError as exc:
        return Verdict(AttemptOutcome.PARSE_ERROR, parse_error=str(exc)[:500])
    evidence: dict[str, str] = {}
    if envelope:
        data, evidence = split_envelope(data)
    try:
        record = model.model_validate(data, context=context)
    except ValidationError as exc:
        return Verdict(AttemptOutcome.INVALID, errors=FieldError.from_pydantic(exc.errors()),
                       evidence=evidence)
    return Verdict(AttemptOutcome.VALID, record=record.model_dump(mode="json"), evidence=evidence)
