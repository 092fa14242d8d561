"""Resolutions as training examples, and the items a reviewer marked "do not train".

Each resolved job becomes one JSON line: the source, the failed attempts (raw output and
their errors), the final record, its field-level diff against the best attempt, who
resolved it and the schema version. Items marked "do not train" (personal data, a
one-off) are left out. Served at ``GET /export/training.jsonl`` and by
``sluice dlq export``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dlq_dashboard.acceptance_view import unwrap_record
from dlq_dashboard.attempts import attempt_views, best_attempt, field_changes
from dlq_dashboard.audit import AuditLog
from dlq_dashboard.database import DashboardDatabase
from dlq_dashboard.source import source_text
from schemas.job import Job, JobStatus, utcnow
from sluice.stores import JobQuery, JobStore
from sluice.stores.base import format_time


class TrainingExclusions:
    def __init__(self, db: DashboardDatabase) -> None:
        self._db = db

    def mark(self, job_id: str, by: str) -> None:
        self._db.get().execute(
            "INSERT INTO training_exclusions (job_id, marked_by, marked_at)"
            " VALUES (?, ?, ?) ON CONFLICT (job_id) DO NOTHING",
            (job_id, by, format_time(utcnow())),
        )

    def unmark(self, job_id: str) -> None:
        self._db.get().execute("DELETE FROM training_exclusions WHERE job_id = ?", (job_id,))

    def excluded(self, job_id: str) -> bool:
        row = (
            self._db.get()
            .execute("SELECT 1 FROM training_exclusions WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        return row is not None

    def all(self) -> set[str]:
        return {job_id for (job_id,) in self._db.get().execute(
            "SELECT job_id FROM training_exclusions"
        )}


def _reviewer(job: Job, audit: AuditLog) -> str | None:
    entry = audit.last_action(job.id, "resolve")
    if entry is not None:
        return entry.actor
    for item in reversed(job.audit):
        if item.action == "resolve":
            return item.by or None
    return None


def training_example(job: Job, audit: AuditLog) -> dict[str, Any]:
    views = attempt_views(job.attempts)
    best = best_attempt(views)
    record = job.result if isinstance(job.result, dict) else {}
    return {
        "job_id": job.id,
        "schema_name": job.schema_name or job.input.get("schema"),
        "schema_version": job.schema_version,
        "source": source_text(job),
        "failed_attempts": [
            {
                "number": view.number,
                "model": view.model,
                "mode": view.mode,
                "raw_text": view.raw_text,
                "parse_error": view.parse_error,
                "errors": [
                    {k: e.get(k) for k in ("loc", "type", "msg", "input")} for e in view.errors
                ],
            }
            for view in views
        ],
        "best_attempt": best.number if best else None,
        "record": record,
        "diff_from_best": field_changes(unwrap_record(best.parsed if best else None), record),
        "reviewer": _reviewer(job, audit),
        "resolved_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def training_lines(
    store: JobStore, audit: AuditLog, exclusions: TrainingExclusions
) -> Iterator[str]:
    excluded = exclusions.all()
    for job in store.iter_jobs(JobQuery(statuses=(JobStatus.RESOLVED,))):
        if job.id in excluded or not job.attempts:
            continue
        yield json.dumps(training_example(job, audit), default=str) + "\n"
