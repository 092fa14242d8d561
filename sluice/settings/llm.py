"""Settings of the LLM client: the endpoint and its fallbacks, structured output, budgets.

The fallback URLs and the structured mode are checked when the settings load, so a typo
stops start-up with the variable named instead of failing the first extraction.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from schemas.budget_rules import BudgetRule, parse_rules


class StructuredMode(StrEnum):
    """What an endpoint enforces of a response schema, strongest first."""

    JSON_SCHEMA = "json_schema"  # OpenAI strict structured outputs
    JSON_OBJECT_SCHEMA = "json_object_schema"  # llama.cpp: json_object with a schema grammar
    JSON_OBJECT = "json_object"  # valid JSON, any shape
    PROMPT = "prompt"  # nothing enforced: the schema is only in the prompt


def fallback_urls(value: str) -> list[str]:
    """The comma-separated endpoints of ``SLUICE_LLM_FALLBACK_URLS``, in order."""
    return [url.strip() for url in value.split(",") if url.strip()]


class LLMSettings(BaseModel):
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint (…/v1). Unset: `sluice up` starts the local "
        "Gemma server of the local-llm extra.",
    )

    llm_model: str = Field("gemma-3-270m", description="Model name sent to the endpoint.")

    llm_api_key: SecretStr = Field(
        SecretStr("sluice-local"), description="Key for the LLM endpoint."
    )

    llm_timeout_seconds: float = Field(
        60.0, gt=0, description="One LLM call's timeout; a timeout is a transient fault."
    )

    llm_fallback_urls: str = Field(
        "",
        description="Comma-separated further OpenAI-compatible endpoints, tried in order "
        "when the one before is unreachable (same model name and key).",
    )

    llm_structured_mode: Literal["auto"] | StructuredMode = Field(
        "auto",
        description="What the endpoint enforces: auto (probe once with a canary schema and "
        "cache it), json_schema, json_object_schema (llama.cpp), json_object or prompt.",
    )

    llm_system_in_user: bool = Field(
        False,
        description="Put the system prompt into the first user message (chat templates "
        "that drop system messages, e.g. Gemma). Always on for the local Gemma server.",
    )

    llm_budgets: Annotated[list[BudgetRule], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated LLM budgets SCOPE:MEASURE:PERIOD=LIMIT, scope global|key "
        "(per API key), measure tokens|cost, period hour|day|<N>s; e.g. "
        "global:tokens:hour=2000000,key:cost:day=5. Over budget a job waits for the window "
        "to roll. Unset: no budget.",
    )

    llm_price_input_per_million: float = Field(
        0.0, ge=0, description="Price of one million prompt tokens, for cost budgets and metrics."
    )

    llm_price_output_per_million: float = Field(
        0.0, ge=0, description="Price of one million completion tokens."
    )

    llm_budget_recheck_seconds: float = Field(
        300.0, gt=0,
        description="Longest a job waits for a budget window before checking again "
        "(kept below the visibility timeout).",
    )

    llm_pause_recheck_seconds: float = Field(
        5.0, gt=0, description="How often a job held by `sluice llm pause` checks again."
    )

    @field_validator("llm_budgets", mode="before")
    @classmethod
    def _budget_rules(cls, value: Any) -> Any:
        return parse_rules(value)

    @field_validator("llm_fallback_urls")
    @classmethod
    def _fallbacks_are_urls(cls, value: str) -> str:
        for url in fallback_urls(value):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL with a host")
        return value
