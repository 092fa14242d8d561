"""Data contracts shared by every Sluice package: jobs, attempts, DLQ items, traces."""

from schemas.job import (
    DEAD_LETTERED,
    DELIVERABLE,
    SETTLED,
    TERMINAL,
    TRANSITIONS,
    DeadReason,
    IllegalTransition,
    Job,
    JobPage,
    JobStatus,
    SinkDelivery,
    TraceStep,
    check_transition,
)

__all__ = [
    "DEAD_LETTERED",
    "DELIVERABLE",
    "SETTLED",
    "TERMINAL",
    "TRANSITIONS",
    "DeadReason",
    "IllegalTransition",
    "Job",
    "JobPage",
    "JobStatus",
    "SinkDelivery",
    "TraceStep",
    "check_transition",
]
