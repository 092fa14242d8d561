"""Reading a stored job row that may no longer parse, without breaking whoever reads it.

A row can stop parsing: written by an older version, nested deeper than pydantic's JSON
parser follows (it stops at 200 levels; Python's ``json`` goes further, so such a row is
read through it instead), or damaged on disk. One bad row must not turn every listing,
stats page and recovery sweep into an error: it is *quarantined*, skipped by listings
with a log line and a count in ``sluice_store_rows_quarantined_total``, and a direct read
of it raises :class:`UnreadableJob` (a :class:`JobNotFound`, so callers answer 404).
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from prometheus_client import Counter
from pydantic import ValidationError

from schemas.job import Job
from sluice.stores.base import JobNotFound

log = structlog.get_logger(__name__)

QUARANTINED = Counter(
    "sluice_store_rows_quarantined",
    "Stored job rows skipped because they no longer parse as a job.",
)


class UnreadableJob(JobNotFound):
    def __str__(self) -> str:
        return f"job {self.job_id} is stored but unreadable (quarantined)"


def job_from_json(document: str | bytes, *, job_id: str | None = None) -> Job | None:
    """The job in ``document``, or None after logging and counting it as quarantined."""
    try:
        return Job.model_validate_json(document)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            try:
                return Job.model_validate(json.loads(document))
            except (ValueError, RecursionError, ValidationError) as retried:
                _quarantine(job_id, retried)
                return None
        _quarantine(job_id, exc)
    return None


def job_from_document(document: dict[str, Any], *, job_id: str | None = None) -> Job | None:
    """The job in a decoded document (MongoDB), or None after quarantining it."""
    try:
        return Job.model_validate(document)
    except (ValidationError, RecursionError) as exc:
        _quarantine(job_id, exc)
        return None


def _quarantine(job_id: str | None, reason: Exception) -> None:
    QUARANTINED.inc()
    log.error("job row quarantined: it no longer parses", job_id=job_id,
              error=f"{type(reason).__name__}: {str(reason)[:300]}")
