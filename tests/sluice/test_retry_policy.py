"""The one retry policy: when a kind gives up on transient faults, and the backoff between
tries. Pure functions, no broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.kinds import RetryPolicy, retry_countdown
from sluice.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=str(tmp_path), max_retries=3, sink_max_retries=7,
                         retry_backoff_seconds=1.0, retry_backoff_max_seconds=8.0)


def test_the_limit_is_the_setting_it_names_unless_fixed(settings: Settings) -> None:
    assert RetryPolicy().limit_for(settings) == 3
    assert RetryPolicy(limit_setting="sink_max_retries").limit_for(settings) == 7
    assert RetryPolicy(limit=1, limit_setting="sink_max_retries").limit_for(settings) == 1


def test_gives_up_once_the_counted_retries_reach_the_limit() -> None:
    policy = RetryPolicy()
    assert not policy.gives_up(retries=2, waits=0, limit=3)
    assert policy.gives_up(retries=3, waits=0, limit=3)


def test_waits_do_not_count_toward_the_limit_by_default() -> None:
    policy = RetryPolicy()
    assert not policy.gives_up(retries=5, waits=3, limit=3)
    assert policy.gives_up(retries=6, waits=3, limit=3)


def test_a_wait_never_ends_a_job_unless_waits_count() -> None:
    assert not RetryPolicy().gives_up(retries=9, waits=0, limit=3, waiting=True)
    assert RetryPolicy(waits_count=True).gives_up(retries=5, waits=3, limit=3, waiting=True)


def test_waits_count_when_the_kind_says_so() -> None:
    assert RetryPolicy(waits_count=True).gives_up(retries=3, waits=3, limit=3)


def test_transient_exceptions_are_named_by_the_kind() -> None:
    policy = RetryPolicy(transient=(TimeoutError,))
    assert policy.is_transient(TimeoutError())
    assert not policy.is_transient(ValueError())
    assert not RetryPolicy().is_transient(TimeoutError())


@pytest.mark.parametrize("retries", [0, 1, 2, 3, 10])
def test_countdown_is_jittered_between_half_and_all_of_the_nominal_delay(
    settings: Settings, retries: int
) -> None:
    ceiling = min(8.0, 1.0 * 2**retries)
    for _ in range(50):
        assert ceiling / 2 <= retry_countdown(settings, retries) <= ceiling
