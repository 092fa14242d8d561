"""Settings of batch runs and their schedule.

Each scheduled entry's cron expression is parsed when the settings load
(:func:`sluice.cron.parse_cron`), so a bad one stops start-up, not Celery beat.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from sluice.cron import parse_cron


class ScheduledBatch(BaseModel):
    """A batch transform that Celery beat starts on a cron schedule."""

    transform: str
    cron: str = Field("0 2 * * *", description="minute hour day-of-month month day-of-week")
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str) -> str:
        parse_cron(value)
        return value


class BatchSettings(BaseModel):
    batch_max_in_flight: int = Field(
        50, ge=1, description="Items of one batch run queued or running at once."
    )

    batch_schedule: list[ScheduledBatch] = Field(
        default_factory=list,
        description="Batch runs Celery beat starts, as JSON: "
        "[{\"transform\": \"re-embed\", \"cron\": \"0 2 * * *\", \"options\": {}}].",
    )
