"""The Celery beat schedule, from the settings: mailbox polls and nightly batch runs."""

from __future__ import annotations

from typing import Any

from producers.batch.tasks import START_TASK
from producers.email.tasks import POLL_TASK
from sluice.cron import BadCron, parse_cron
from sluice.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    if settings.email_mailboxes:
        schedule["email-poll"] = {
            "task": POLL_TASK, "schedule": settings.email_poll_interval_seconds,
            "options": {"queue": "io"},
        }
    for index, entry in enumerate(settings.batch_schedule):
        schedule[f"batch-{index}-{entry.transform}"] = {
            "task": START_TASK, "schedule": parse_cron(entry.cron),
            "args": [entry.transform, entry.options], "options": {"queue": "io"},
        }
    return schedule


__all__ = ["BadCron", "beat_schedule", "parse_cron"]
