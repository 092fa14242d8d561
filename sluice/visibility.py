"""The visibility-timeout rule: Redis redelivers an unacknowledged message after
``visibility_timeout``. A task that may run longer than that would run twice at once, and a
countdown longer than that would be redelivered early, so both are refused up front."""

from __future__ import annotations

from collections.abc import Iterable

from sluice.errors import CountdownTooLong as CountdownTooLong  # its old home
from sluice.settings import ENV_PREFIX, Settings


class VisibilityTimeoutTooShort(Exception):
    """A hard time limit reaches past the broker's visibility timeout."""


def check_time_limits(settings: Settings, task_time_limits: Iterable[float | None]) -> None:
    longest = max([settings.task_time_limit, *(t for t in task_time_limits if t)])
    if settings.visibility_timeout <= longest:
        raise VisibilityTimeoutTooShort(
            f"{ENV_PREFIX}VISIBILITY_TIMEOUT ({settings.visibility_timeout:g}s) must be larger "
            f"than the longest hard time limit ({longest:g}s), or a running task is "
            "redelivered and runs twice"
        )
    if settings.retry_backoff_max_seconds >= settings.visibility_timeout:
        raise VisibilityTimeoutTooShort(
            f"{ENV_PREFIX}RETRY_BACKOFF_MAX_SECONDS ({settings.retry_backoff_max_seconds:g}s) "
            f"must be below {ENV_PREFIX}VISIBILITY_TIMEOUT ({settings.visibility_timeout:g}s)"
        )


def check_countdown(settings: Settings, countdown: float | None) -> None:
    if countdown is not None and countdown >= settings.visibility_timeout:
        raise CountdownTooLong(
            f"countdown {countdown:g}s is not below {ENV_PREFIX}VISIBILITY_TIMEOUT "
            f"({settings.visibility_timeout:g}s): the broker would redeliver it early"
        )
