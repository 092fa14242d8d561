"""Settings of extraction: user schemas, the attempt and token budgets, temperatures, and
the acceptance gate."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ExtractionSettings(BaseModel):
    schemas: str = Field(
        "",
        description="Comma-separated user extraction schemas, `module:Model` (pydantic "
        "models); also loaded from the `sluice.schemas` entry-point group.",
    )

    extract_max_attempts: int = Field(
        3, ge=1, description="LLM attempts per extraction job before dead/exhausted."
    )

    extract_max_tokens: int = Field(
        20000, ge=1, description="Token budget (prompt + completion, all attempts) per job."
    )

    extract_max_seconds: float = Field(
        300.0, gt=0, description="Wall-time budget of one extraction job across deliveries."
    )

    extract_completion_tokens: int = Field(
        512, ge=16, description="max_tokens of one extraction call (doubled once on truncation)."
    )

    extract_temperature: float = Field(
        0.0, ge=0, le=2, description="Temperature of the first attempt."
    )

    extract_retry_temperature: float = Field(
        0.7,
        ge=0,
        le=2,
        description="Temperature of correction attempts: at 0 a small model repeats itself.",
    )

    acceptance: Literal["verified", "schema-only"] = Field(
        "verified",
        description="`verified`: a record is accepted only when every field is backed by a "
        "verbatim quote from an allowed region of the source, and enum and free-text fields "
        "are agreed by k samples; anything else goes to review as dead/unverified. "
        "`schema-only`: accept any schema-valid record that passes the schema's own checks.",
    )

    extract_sample_temperature: float = Field(
        0.8, gt=0, le=2,
        description="Temperature of the agreement samples of enum and free-text fields.",
    )
