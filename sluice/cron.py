"""Cron expressions: the one parser, used by the settings (at start-up) and the beat schedule."""

from __future__ import annotations

from celery.schedules import crontab


class BadCron(ValueError):
    """A cron expression that is not five valid fields."""


def parse_cron(expression: str) -> crontab:
    """``minute hour day-of-month month day-of-week`` as a Celery schedule, or :class:`BadCron`."""
    fields = expression.split()
    if len(fields) != 5:
        raise BadCron(f"cron {expression!r}: want five fields (minute hour day month weekday)")
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(minute=minute, hour=hour, day_of_month=day_of_month,
                       month_of_year=month_of_year, day_of_week=day_of_week)
    except ValueError as exc:  # celery checks each field's range and names
        raise BadCron(f"cron {expression!r}: {exc}") from exc


__all__ = ["BadCron", "parse_cron"]
