"""The pure parts of LLM budgets: windows, what a call adds, its cost, how long to wait."""

from __future__ import annotations

import pytest

from libs.llm.budget import (
    KEY_PREFIX,
    MICROS,
    WindowCounter,
    _wait_seconds,
    call_cost,
    counters_for,
    estimate_tokens,
)
from schemas.budget_rules import parse_rule
from sluice.settings import Settings


def settings(**fields: object) -> Settings:
    return Settings.model_validate({
        "llm_budgets": "global:tokens:hour=1000,key:cost:day=2.5",
        "llm_price_input_per_million": 1.0,
        "llm_price_output_per_million": 4.0,
        **fields,
    })


def test_windows_are_aligned_to_the_epoch_and_scoped_by_rule() -> None:
    now = 3600 * 10 + 125.5
    hourly, daily = counters_for(settings(), "k1", now)
    assert (hourly.scope_id, hourly.window_start) == ("all", 3600 * 10)
    assert (daily.scope_id, daily.window_start) == ("k1", 0)
    assert hourly.key == f"{KEY_PREFIX}:global:tokens:hour:all:36000"
    assert hourly.resets_at == 3600 * 11


def test_token_windows_count_tokens_and_cost_windows_count_millionths() -> None:
    tokens = WindowCounter(parse_rule("global:tokens:hour=1000"), "all", 0)
    cost = WindowCounter(parse_rule("key:cost:day=2.5"), "k1", 0)
    assert (tokens.amount(120, 9.9), tokens.limit, tokens.shown(120)) == (120, 1000, 120.0)
    assert cost.amount(120, 0.0000011) == 2  # rounded up: a budget never undercounts
    assert cost.limit == 2_500_000 == 2.5 * MICROS
    assert cost.shown(1_250_000) == 1.25


def test_a_call_costs_its_prompt_and_completion_at_their_prices() -> None:
    assert call_cost(settings(), 1_000_000, 0) == pytest.approx(1.0)
    assert call_cost(settings(), 500_000, 250_000) == pytest.approx(0.5 + 1.0)


def test_a_waiting_job_sleeps_until_the_window_rolls_within_bounds() -> None:
    bounded = settings(llm_budget_recheck_seconds=30, visibility_timeout=40)
    assert _wait_seconds(bounded, 5.0) == 5.0
    assert _wait_seconds(bounded, 3600.0) == 20.0  # half the visibility timeout
    assert _wait_seconds(settings(llm_budget_recheck_seconds=10), 3600.0) == 10.0
    assert _wait_seconds(bounded, 0.0) == 0.05  # never a busy loop


def test_a_prompt_is_estimated_at_four_characters_a_token_and_never_zero() -> None:
    assert estimate_tokens([{"role": "user", "content": "x" * 400}]) == 100
    assert estimate_tokens([{"role": "system", "content": "ab"}, {"role": "user"}]) == 1
    assert estimate_tokens([]) == 1
