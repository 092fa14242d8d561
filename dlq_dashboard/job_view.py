"""What the job page shows of one job: its input made safe to show, its trace as a timeline.

The input is shown as indented JSON text that the template escapes; values under names
that hold credentials are masked and long strings cut, so a page never shows a password
a producer put into an input, nor a megabyte of email. The timeline places each trace
step at its start offset and width as percentages of the job's span, for an SVG the page
draws without inline style (the Content-Security-Policy forbids it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.job import DEAD_LETTERED, DELIVERABLE, Job, JobStatus, TraceStep

MASK = "••••••"
MAX_SHOWN_CHARS = 4_000
# Names whose values are credentials, wherever they occur in an input.
SECRET_NAME = re.compile(r"pass(word)?|secret|token|api[_-]?key|authorization|cookie|credential",
                         re.IGNORECASE)
# Statuses whose job the DLQ view knows: in the queue now, or acted on there.
DLQ_STATUSES = DEAD_LETTERED | {JobStatus.REQUEUED, JobStatus.RESOLVED, JobStatus.DISCARDED}
# A job that ended and may be submitted again as a new job (a dead one is re-run by redrive).
RERUNNABLE = frozenset({JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.DISCARDED,
                        JobStatus.RESOLVED})
CANCELLABLE = frozenset({JobStatus.QUEUED, JobStatus.RETRYING})


def sanitised(value: Any, depth: int = 0) -> Any:
    """``value`` with credentials masked and long strings cut (the template escapes it)."""
    if isinstance(value, dict):
        return {
            key: MASK if SECRET_NAME.search(str(key)) and item not in (None, "")
            else sanitised(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [sanitised(item, depth + 1) for item in value]
    if isinstance(value, str) and len(value) > MAX_SHOWN_CHARS:
        return f"{value[:MAX_SHOWN_CHARS]}… ({len(value) - MAX_SHOWN_CHARS:,} more characters)"
    return value


def input_text(job: Job) -> str:
    return json.dumps(sanitised(job.input), indent=2, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class TimelineStep:
    name: str
    offset_ms: float
    duration_ms: float
    left_pct: float
    width_pct: float
    attrs: dict[str, Any]


def timeline(job: Job) -> list[TimelineStep]:
    """The trace's steps placed on one axis from the job's first step to its last end."""
    steps: list[TraceStep] = sorted(job.trace, key=lambda step: step.started_at)
    if not steps:
        return []
    origin: datetime = steps[0].started_at
    ends = [(step.started_at - origin).total_seconds() * 1000 + step.duration_ms
            for step in steps]
    span = max(max(ends), 1.0)
    placed = []
    for step in steps:
        offset = (step.started_at - origin).total_seconds() * 1000
        placed.append(TimelineStep(
            name=step.name,
            offset_ms=offset,
            duration_ms=step.duration_ms,
            left_pct=round(100 * offset / span, 2),
            # A step too short to see still gets a visible sliver.
            width_pct=round(max(100 * step.duration_ms / span, 0.5), 2),
            attrs=sanitised(step.attrs),
        ))
    return placed


def lifecycle(job: Job) -> list[tuple[str, datetime]]:
    """The moments on record: created, sent, started, finished, last change."""
    moments = [("created", job.created_at), ("sent to the broker", job.sent_at),
               ("started", job.started_at), ("finished", job.finished_at),
               ("last change", job.updated_at)]
    return [(label, moment) for label, moment in moments if moment is not None]


def job_actions(job: Job) -> dict[str, bool]:
    """Which actions this job's state allows (the role is checked separately)."""
    return {
        "cancel": job.status in CANCELLABLE,
        "rerun": job.status in RERUNNABLE or job.status in DEAD_LETTERED,
        "dlq": job.status in DLQ_STATUSES,
        "live": job.status in DELIVERABLE,
    }
