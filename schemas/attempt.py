"""One extraction attempt as the job's ledger records it.

Every attempt is written to the job (``Job.attempts``, as JSON) before the next one starts,
so a redelivered job resumes at attempt k, a reviewer sees exactly what the model answered
each time, and token costs are counted per attempt, failed ones included.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator


class AttemptOutcome(StrEnum):
    VALID = "valid"
    PARSE_ERROR = "parse_error"  # not JSON (or not a JSON object)
    INVALID = "invalid"  # JSON, but the schema or a grounding check refused it
    TRUNCATED = "truncated"  # finish_reason == "length": the output was cut off
    # Schema-valid, but the acceptance gate refused it (a quote that does not verify, a value
    # from a quoted reply): ``record`` holds the candidate, ``errors`` the failed checks.
    UNVERIFIED = "unverified"


class FieldError(BaseModel):
    """One pydantic error, kept whole: where, which rule, the message and the bad value."""

    loc: list[str | int] = Field(default_factory=list)
    type: str = "value_error"
    msg: str = ""
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
    """One call to the model and what became of its answer.

    How the call was made (endpoint, model, mode, hash, sizes) defaults to empty so that
    rows written before a field existed still load; :meth:`_from_older_rows` maps the
    older key names (``raw``, ``validation_errors``, ``usage``) onto today's.
    """

    number: int
    endpoint: str = ""
    model: str = ""
    mode: str = ""
    messages_hash: str = ""
    prompt_chars: int = 0
    max_tokens: int = 0
    temperature: float = 0.0
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    latency_ms: float = 0.0
    raw_text: str = ""
    finish_reason: str | None = None
    outcome: AttemptOutcome
    parse_error: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The validated record when outcome is valid: a resumed job returns it without a call.
    # (Unverified: the schema-valid candidate the gate refused.)
    record: dict[str, Any] | None = None
    # The model's verbatim quote per field (acceptance mode ``verified``).
    evidence: dict[str, str] = Field(default_factory=dict)
    # An agreement sample (same prompt, warmer): not a correction attempt, but its tokens
    # count against the job's budget like any other call.
    sample: bool = False
    # The model route the call took (SLUICE_LLM_ROUTES; "default" when none matched).
    route: str = ""
    # Answered from the LLM response cache: no call was made, no token charged.
    cached: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_older_rows(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        row = dict(data)
        if not row.get("raw_text") and row.get("raw"):
            row["raw_text"] = row["raw"]
        if not row.get("errors") and row.get("validation_errors"):
            row["errors"] = row["validation_errors"]
        usage = row.get("usage") or {}
        for key in ("prompt_tokens", "completion_tokens"):
            if not row.get(key) and usage.get(key):
                row[key] = usage[key]
        if not row.get("outcome"):
            row["outcome"] = AttemptOutcome.INVALID if row.get("errors") else (
                AttemptOutcome.PARSE_ERROR
            )
        for key in ("raw", "validation_errors", "usage"):
            row.pop(key, None)
        return row

    @property
    def tokens(self) -> int:
        """Prompt and completion tokens of this attempt."""
        return self.prompt_tokens + self.completion_tokens


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)
