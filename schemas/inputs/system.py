"""The inputs of the small kinds: ``echo`` (any input, returned as is), the internal
``sink.deliver`` (one record to one sink), and the system's own tasks ``email.poll``,
``batch.start``, ``batch.advance`` and ``sluice.callback``, whose arguments are their own,
not a job id."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EchoInput(BaseModel):
    model_config = ConfigDict(extra="allow")


class SinkDeliverInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str = Field(min_length=1, description="The source job whose record this is.")
    sink: str = Field(min_length=1)
    record: dict[str, Any]
    schema_name: str | None = None
    schema_version: int | None = None


class EmailPollInput(BaseModel):
    """``email.poll`` takes no arguments: it polls every configured mailbox."""


class BatchStartInput(BaseModel):
    transform: str = Field(min_length=1)
    options: dict[str, Any] | None = None


class BatchAdvanceInput(BaseModel):
    run_id: str = Field(min_length=1)


class RetentionSweepInput(BaseModel):
    """``retention.sweep`` takes no arguments: the periods come from the settings."""


class CallbackInput(BaseModel):
    """``sluice.callback``: the settled job and which of its callbacks to deliver."""

    job_id: str = Field(min_length=1)
    delivery_id: str = Field(min_length=1)
