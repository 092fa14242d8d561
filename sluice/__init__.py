"""Sluice's kernel: settings, the Celery app and its routing, the job store, enqueueing,
and the task wrapper that counts deliveries. Everything else is private to its package."""

from schemas.job import DeadReason, IllegalTransition, Job, JobStatus
from sluice.enqueue import submit
from sluice.job_task import DeadLetter, JobContext, Retryable, job_task
from sluice.routing import ROUTES, Queue, Route
from sluice.settings import Settings, SettingsError, get_settings
from sluice.stores import JobQuery, JobStore, get_store, open_store

__all__ = [
    "ROUTES",
    "DeadLetter",
    "DeadReason",
    "IllegalTransition",
    "Job",
    "JobContext",
    "JobQuery",
    "JobStatus",
    "JobStore",
    "Queue",
    "Retryable",
    "Route",
    "Settings",
    "SettingsError",
    "get_settings",
    "get_store",
    "job_task",
    "open_store",
    "submit",
]
