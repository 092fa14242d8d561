"""Settings of the HTTP API: where it listens, the keys it accepts, how much it takes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from sluice.settings.core import split_commas


def api_key_id(key: str) -> str:
    """A key's public name for budgets, rate limits, logs and metrics: never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class ApiSettings(BaseModel):
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer keys the API accepts, each with every scope but "
        "admin in the `default` tenant. Unset: `sluice up` generates one and prints it.",
    )

    api_keys_file: Path | None = Field(
        None,
        description="A file of API keys with their tenant and scopes, one JSON object a line "
        "(`sluice keys add` writes it; only each key's sha256 is stored). Its keys work "
        "beside SLUICE_API_KEYS.",
    )

    api_host: str = Field("127.0.0.1", description="Address the API binds to.")

    api_url: str | None = Field(
        None, description="Where the CLI reaches the API. Unset: http://API_HOST:API_PORT."
    )

    api_port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")

    max_request_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest request body the API accepts (413 above)."
    )

    admin_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer keys with the admin scope: /v1/admin (LLM "
        "pause/resume) and every tenant. Unset: only keys-file keys with `admin` are admins.",
    )

    submit_rate_per_minute: int | None = Field(
        None, ge=1,
        description="Job submissions per minute per API key (429 above). Unset: no limit.",
    )

    submit_burst: int | None = Field(
        None, ge=1, description="Submissions a key may make at once. Unset: the per-minute rate."
    )

    max_streams_per_key: int = Field(
        16, ge=1,
        description="Server-sent-event streams (job events, ask streams) one API key may hold "
        "open in one API process at once (429 above).",
    )

    @field_validator("api_keys", "admin_api_keys", mode="before")
    @classmethod
    def _comma_separated_keys(cls, value: Any) -> Any:
        return split_commas(value)

    @property
    def effective_api_url(self) -> str:
        return (self.api_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    def api_key_values(self) -> list[str]:
        return [key.get_secret_value() for key in self.api_keys]

    def admin_key_values(self) -> list[str]:
        return [key.get_secret_value() for key in self.admin_api_keys]
