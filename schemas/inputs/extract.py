"""The input of an ``extract`` job: a document (text or RFC 822 email) and a schema name.

Either ``text`` (the email producer sends the cleaned body here, with the parsed headers
in ``email`` as a dict whose ``date`` dates the message), or ``email`` as the raw RFC 822
message, which the worker reads itself. ``attachments`` holds the text of the message's
attached files (the producer reads them; the worker reads a raw message's itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AttachedText(BaseModel):
    """The text of a file attached to the message (the email producer reads it); the
    acceptance gate sees it as an ``attachment`` region."""

    model_config = ConfigDict(extra="allow")

    filename: str = Field(min_length=1, max_length=500)
    text: str | None = None
    document_id: str | None = None
    # Why there is no text: the file could not be read (encrypted, malformed...).
    error: str | None = None


class ExtractInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")

    schema_name: str = Field(alias="schema", min_length=1)
    schema_version: int | None = Field(None, ge=1)
    text: str | None = None
    email: str | dict[str, Any] | None = Field(
        None, description="A raw RFC 822 message, or the parsed headers of the text's email."
    )
    received_at: datetime | None = None
    attachments: list[AttachedText] = Field(default_factory=list, max_length=50)
    reviewer_hint: str | None = None
    # Appended to the system prompt: a batch re-extract with a revised prompt sets this.
    instructions: str | None = Field(None, max_length=4000)
    # Per-job budget overrides: {"attempts": n, "tokens": n, "seconds": s}.
    budget: dict[str, float] | None = None
    max_tokens: int | None = Field(None, ge=16)
    # A reviewer's re-run may ask for another model on the same endpoints.
    model: str | None = None

    @model_validator(mode="after")
    def _one_document(self) -> ExtractInput:
        raw_email = isinstance(self.email, str) and bool(self.email)
        if bool(self.text) == raw_email:
            raise ValueError("give exactly one of `text` or `email` (a raw RFC 822 message)")
        return self

    @property
    def raw_email(self) -> str | None:
        return self.email if isinstance(self.email, str) else None

    @property
    def message_time(self) -> datetime | None:
        """When the message was sent: ``received_at``, else the parsed email's ``date``."""
        if self.received_at is not None:
            return self.received_at
        if isinstance(self.email, dict) and isinstance(self.email.get("date"), str):
            try:
                return datetime.fromisoformat(self.email["date"])
            except ValueError:
                return None
        return None
