"""Settings of the LLM gateway: the response cache, model routes and PII redaction.

Routes and redaction policies are JSON, checked when the settings load: an unknown entity
type or a route without a name stops start-up with the variable named.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from schemas.llm_routes import ModelRoute
from schemas.redaction import PIIEntity


class GatewaySettings(BaseModel):
    llm_cache: bool = Field(
        False,
        description="Cache temperature-0 LLM answers in Redis (exact match on endpoint, "
        "model, messages, decoding schema and sampling parameters); a hit costs no tokens.",
    )

    llm_cache_ttl_seconds: int = Field(
        86400, ge=1, description="How long a cached LLM answer is kept."
    )

    llm_cache_max_entries: int = Field(
        10000, ge=1,
        description="Most cached LLM answers kept; the least recently used go first.",
    )

    llm_cache_corrections: bool = Field(
        False,
        description="Also cache extraction correction attempts (off: a repeated correction "
        "is the problem the retry is there to escape).",
    )

    llm_routes: Annotated[list[ModelRoute], NoDecode] = Field(
        default_factory=list,
        description="JSON list of model routes, first match wins: conditions kind, schema, "
        "min_input_chars, min_attempt; targets base_url, model. Unmatched calls take the "
        "route `default` (SLUICE_LLM_BASE_URL, SLUICE_LLM_MODEL).",
    )

    redaction: Annotated[dict[str, list[PIIEntity]], NoDecode] = Field(
        default_factory=dict,
        description="JSON object: schema name or job kind -> entity types (email, phone, "
        "iban, card, address, person) replaced by placeholders before an LLM call and "
        "restored in the accepted record. Unset: nothing is redacted.",
    )

    @field_validator("llm_routes", "redaction", mode="before")
    @classmethod
    def _json(cls, value: Any, info: ValidationInfo) -> Any:
        """Environment variables and keyword arguments alike may give the JSON text."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return [] if info.field_name == "llm_routes" else {}
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None

    @field_validator("llm_routes")
    @classmethod
    def _unique_route_names(cls, routes: list[ModelRoute]) -> list[ModelRoute]:
        names = [route.name for route in routes]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates or "default" in names:
            raise ValueError(f"route names must be unique and not 'default': {duplicates}")
        return routes
