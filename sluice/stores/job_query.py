"""What a listing of jobs asks for (:class:`JobQuery`) and where the next page resumes
(an opaque cursor over creation time and id), shared by every job store."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.job import DeadReason, Job, JobStatus


@dataclass(frozen=True)
class JobQuery:
    """Filters for listing; ``fields`` are dotted paths into the job (``input.schema``)."""

    statuses: tuple[JobStatus, ...] = ()
    kind: str | None = None
    reason: DeadReason | None = None
    # Only this tenant's jobs (an indexed column); None: every tenant's.
    tenant: str | None = None
    fields: tuple[tuple[str, Any], ...] = ()
    created_before: datetime | None = None
    created_after: datetime | None = None
    updated_before: datetime | None = None
    # Only jobs whose ``wake_at`` (an indexed column) is at or before this time.
    wake_before: datetime | None = None


def encode_cursor(job: Job) -> str:
    raw = json.dumps([format_time(job.created_at), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class InvalidCursor(ValueError):
    pass


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, job_id = json.loads(base64.urlsafe_b64decode(padded))
        return str(created), str(job_id)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor(f"malformed cursor {cursor!r}") from exc


def format_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


__all__ = ["InvalidCursor", "JobQuery", "decode_cursor", "encode_cursor", "format_time"]
