"""How long Sluice keeps what it has finished with, and how the sweep that purges it runs.

A period of 0 keeps that kind of data until it is erased (``sluice erase``). Jobs that are
not settled (queued, running, retrying, or dead and waiting for a reviewer) are never
purged by age: only what has reached an end is.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from sluice.cron import parse_cron


class RetentionSettings(BaseModel):
    keep_settled_jobs_days: int = Field(
        30, ge=0, description="Days a settled job (succeeded, cancelled, resolved, discarded) "
        "is kept after it settled; 0 keeps them.",
    )
    keep_email_bodies_days: int = Field(
        30, ge=0, description="Days an email's stored text (and its vectors) is kept after it "
        "was read; 0 keeps them.",
    )
    keep_records_days: int = Field(
        0, ge=0, description="Days an accepted record is kept in the records sink; 0 keeps "
        "them (the sink is often the system of record).",
    )
    keep_audit_days: int = Field(
        365, ge=0, description="Days a dashboard audit entry is kept; 0 keeps them.",
    )
    retention_cron: str = Field(
        "17 * * * *", description="When `sluice beat` runs the retention sweep (cron, UTC).",
    )
    retention_batch: int = Field(
        500, ge=1, le=10_000, description="Rows the retention sweep deletes per batch.",
    )

    @field_validator("retention_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        parse_cron(value)
        return value
