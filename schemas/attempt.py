"""One extraction attempt as the job's ledger records it.

Every attempt is written to the job (``Job.attempts``, as JSON) before the next one starts,
so a redelivered job resumes at attempt k, a reviewer sees exactly what the model answered
each time, and token costs are counted per attempt, failed ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from schemas.job import utcnow


class AttemptOutcome(StrEnum):
    VALID = "valid"
    PARSE_ERROR = "parse_error"  # not JSON (or not a JSON object)
    INVALID = "invalid"  # JSON, but the schema or a grounding check refused it
    TRUNCATED = "truncated"  # finish_reason == "length": the output was cut off


class FieldError(BaseModel):
    """One pydantic error, kept whole: where, which rule, the message and the bad value."""

    loc: list[str | int] = Field(default_factory=list)
    type: str
    msg: str
    input: Any = None

    @classmethod
    def from_pydantic(cls, errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
        return [
            cls(
                loc=list(error.get("loc", ())),
                type=str(error.get("type", "value_error")),
                msg=str(error.get("msg", "")),
                input=_jsonable(error.get("input")),
            )
            for error in errors
        ]


class Attempt(BaseModel):
    number: int
    endpoint: str
    model: str
    mode: str
    messages_hash: str
    prompt_chars: int
    max_tokens: int
    temperature: float
    started_at: datetime = Field(default_factory=utcnow)
    latency_ms: float = 0.0
    raw_text: str = ""
    finish_reason: str | None = None
    outcome: AttemptOutcome
    parse_error: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The validated record when outcome is valid: a resumed job returns it without a call.
    record: dict[str, Any] | None = None


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)
