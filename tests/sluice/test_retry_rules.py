"""The retry countdown as a pure function: exponential, capped, with equal jitter."""

from __future__ import annotations

import random

import pytest

from sluice.job_task import retry_countdown
from sluice.settings import Settings


def settings(base: float = 2.0, cap: float = 60.0) -> Settings:
    return Settings(retry_backoff_seconds=base, retry_backoff_max_seconds=cap)


@pytest.mark.parametrize(("retries", "nominal"), [(0, 2.0), (1, 4.0), (2, 8.0), (4, 32.0)])
def test_the_delay_doubles_with_each_retry_within_equal_jitter(
    retries: int, nominal: float
) -> None:
    random.seed(retries)
    config = settings()
    delays = [retry_countdown(config, retries) for _ in range(200)]
    assert all(nominal / 2 <= delay <= nominal for delay in delays)
    assert max(delays) - min(delays) > nominal / 4  # spread out, not one fixed delay


def test_the_delay_never_passes_the_cap_however_many_retries() -> None:
    for retries in (5, 10, 60):
        delay = retry_countdown(settings(cap=60.0), retries)
        assert 30.0 <= delay <= 60.0


def test_a_cap_below_the_base_delay_wins() -> None:
    assert 0.5 <= retry_countdown(settings(base=10.0, cap=1.0), 0) <= 1.0
