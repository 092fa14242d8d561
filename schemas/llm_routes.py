"""Model routes as operators write them: which endpoint and model a call goes to.

``SLUICE_LLM_ROUTES`` is a JSON list of routes, tried in order; the first whose conditions
all hold takes the call, and a call no route takes goes to the configured endpoint and
model (the route ``default``). For example, a small model first and a bigger one for
correction attempts and for long documents::

    [{"name": "big-retries", "min_attempt": 2, "model": "qwen2.5-7b"},
     {"name": "long-docs", "min_input_chars": 20000, "base_url": "http://big:8000/v1",
      "model": "qwen2.5-32b"},
     {"name": "tickets-small", "schema": "support_ticket", "model": "qwen2.5-0.5b"}]

This module only describes a route; :mod:`libs.llm.routing` picks one for a call.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

DEFAULT_ROUTE = "default"
RouteName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class ModelRoute(BaseModel):
    """Conditions (all must hold; an unset one always does) and where the call goes."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: RouteName
    # Conditions.
    kind: str | None = None
    schema_name: str | None = Field(None, alias="schema")
    min_input_chars: int | None = Field(None, ge=0)
    min_attempt: int | None = Field(None, ge=1)
    # Where it goes: unset parts stay as configured (SLUICE_LLM_BASE_URL and its
    # fallbacks, SLUICE_LLM_MODEL).
    base_url: str | None = None
    model: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL with a host")
        return value

    def matches(
        self, *, kind: str | None, schema_name: str | None, input_chars: int, attempt: int
    ) -> bool:
        return (
            (self.kind is None or self.kind == kind)
            and (self.schema_name is None or self.schema_name == schema_name)
            and (self.min_input_chars is None or input_chars >= self.min_input_chars)
            and (self.min_attempt is None or attempt >= self.min_attempt)
        )
