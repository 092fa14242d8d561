"""Settings of the job lifecycle around a job's run: callbacks, schedules, priorities, bulk."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from sluice.settings.core import split_commas


class LifecycleSettings(BaseModel):
    callback_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host names a job's callback_url may name (`*.example.com` "
        "for subdomains). Unset: callbacks are refused.",
    )

    callback_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or CIDR networks a callback may reach even "
        "though they are private, loopback or link-local (SSRF guard).",
    )

    callback_allow_http: bool = Field(
        False, description="Accept http:// callback URLs (https only when off)."
    )

    callback_secret: SecretStr | None = Field(
        None,
        description="HMAC key that signs callbacks (`Sluice-Signature`). Unset: callbacks "
        "are refused.",
    )

    callback_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one callback POST."
    )

    callback_max_retries: int = Field(
        8, ge=0, description="Retries of a callback (with backoff) before it is marked failed."
    )

    due_sweep_seconds: float = Field(
        1.0, gt=0,
        description="How often each worker releases due scheduled jobs and sends due "
        "callbacks: a scheduled job starts at most about this late.",
    )

    priority_aging_seconds: float | None = Field(
        600.0, gt=0,
        description="A queued job that has waited this long is re-sent one priority step "
        "sooner (low -> normal -> high), so a flood of sooner work cannot starve it. "
        "Unset: strict priorities.",
    )

    max_batch_jobs: int = Field(
        100, ge=1, le=1000, description="Most jobs one POST /v1/jobs:batch may submit."
    )

    @field_validator("callback_allowed_hosts", "callback_allowed_networks", mode="before")
    @classmethod
    def _comma_separated_callback_lists(cls, value: Any) -> Any:
        return split_commas(value)
