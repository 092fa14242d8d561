"""Bulk submit's answer (``POST /v1/jobs:batch``): one result per job, in request order."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from schemas.job import Job


class BatchItem(BaseModel):
    """One job's outcome: 201 created, 200 a known idempotency key (the job it made), 409
    a key that belongs to another kind or input, 422 refused at the door."""

    index: int
    status: int
    job: Job | None = None
    error: dict[str, Any] | None = Field(
        None, description="The refusal as RFC 9457 problem details (`errors` for a 422)."
    )

    @property
    def ok(self) -> bool:
        return self.job is not None


class BatchResult(BaseModel):
    items: list[BatchItem]
    created: int
    existing: int
    failed: int
