"""Settings of the email producer: the IMAP mailboxes and how they are polled."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class MailboxSettings(BaseModel):
    """One IMAP mailbox that `sluice email poll` reads; each has its own checkpoint."""

    name: str = Field(description="Checkpoint and log name; unique among mailboxes.")
    host: str
    port: int = Field(993, ge=1, le=65535)
    ssl: bool = True
    username: str
    password: SecretStr
    folder: str = "INBOX"
    schema_name: str = Field(
        "support_ticket", description="Extraction schema for this mailbox's messages."
    )
    # "flag" sets processed_flag on each processed message; "move" moves it to move_to.
    processed: Literal["flag", "move"] = "flag"
    processed_flag: str = "$SluiceProcessed"
    move_to: str = "Processed"


class EmailSettings(BaseModel):
    email_mailboxes: list[MailboxSettings] = Field(
        default_factory=list,
        description="IMAP mailboxes to poll, as JSON: [{\"name\", \"host\", \"port\", "
        "\"ssl\", \"username\", \"password\", \"folder\", \"schema_name\", "
        "\"processed\": \"flag\"|\"move\", \"move_to\"}].",
    )

    email_poll_interval_seconds: float = Field(
        60.0, gt=0, description="How often Celery beat polls every mailbox."
    )

    email_poll_batch: int = Field(
        200, ge=1, description="Messages fetched from a mailbox per poll, oldest first."
    )

    email_max_message_bytes: int = Field(
        25 * 1024 * 1024, ge=1024,
        description="Larger messages are dead-lettered (invalid_input) without parsing.",
    )

    email_max_text_chars: int = Field(
        50_000, ge=100, description="Text of one message sent to extraction; the rest is cut."
    )
