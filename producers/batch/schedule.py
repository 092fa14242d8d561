"""The Celery beat schedule, from the settings: mailbox polls and nightly batch runs."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from producers.batch.tasks import START_TASK
from producers.email.tasks import POLL_TASK
from sluice.settings import Settings


class BadCron(ValueError):
    """A schedule entry's cron expression is not five fields."""


def cron(expression: str) -> crontab:
    fields = expression.split()
    if len(fields) != 5:
        raise BadCron(f"cron {expression!r}: want five fields (minute hour day month weekday)")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                   month_of_year=month_of_year, day_of_week=day_of_week)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    if settings.email_mailboxes:
        schedule["email-poll"] = {
            "task": POLL_TASK, "schedule": settings.email_poll_interval_seconds,
            "options": {"queue": "io"},
        }
    for index, entry in enumerate(settings.batch_schedule):
        schedule[f"batch-{index}-{entry.transform}"] = {
            "task": START_TASK, "schedule": cron(entry.cron),
            "args": [entry.transform, entry.options], "options": {"queue": "io"},
        }
    return schedule
