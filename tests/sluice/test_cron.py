"""The one cron parser: five fields, each checked by Celery's crontab."""

from __future__ import annotations

import pytest
from celery.schedules import crontab

from sluice.cron import BadCron, parse_cron


def test_five_fields_make_a_crontab() -> None:
    schedule = parse_cron("30 2 * * 1")
    assert isinstance(schedule, crontab)
    assert schedule.minute == {30} and schedule.hour == {2} and schedule.day_of_week == {1}


@pytest.mark.parametrize("expression", ["", "0 2 * *", "0 2 * * * *"])
def test_a_wrong_number_of_fields_is_refused(expression: str) -> None:
    with pytest.raises(BadCron, match="five fields"):
        parse_cron(expression)


@pytest.mark.parametrize("expression", ["60 * * * *", "* 25 * * *", "* * * * funday"])
def test_a_field_out_of_range_is_refused(expression: str) -> None:
    with pytest.raises(BadCron):
        parse_cron(expression)
