"""LLM budgets and the kill switch, against the real Redis: the Lua check-and-reserve."""

from __future__ import annotations

import threading
import time

import pytest

from libs.llm import budget as llm_budget
from libs.llm.budget import BudgetExceeded, LLMPaused
from sluice.settings import Settings
from tests.conftest import SluiceEnv, make_env
from tests.support.polling import wait_for

WINDOW_SECONDS = 3


def budget_env(sluice_env: SluiceEnv, budgets: str, **overrides: object) -> Settings:
    env = make_env(
        sluice_env.tmp / "budget", str(sluice_env.settings.broker_url), llm_budgets=budgets,
        **overrides,
    )
    env.store.close()
    return env.settings


def at_window_start(period: int) -> None:
    """Wait until a fresh window has most of its time left, so a test cannot straddle a roll."""
    wait_for(lambda: time.time() % period < 0.3, timeout=period + 1, interval=0.01,
             what="the start of a budget window")


def test_budget_of_n_tokens_refuses_the_call_past_n_until_the_window_rolls(
    sluice_env: SluiceEnv,
) -> None:
    settings = budget_env(sluice_env, f"global:tokens:{WINDOW_SECONDS}s=100")
    at_window_start(WINDOW_SECONDS)
    first = llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=10)
    first.charge(prompt_tokens=60, completion_tokens=40)  # exactly N = 100 tokens used

    with pytest.raises(BudgetExceeded) as refused:
        llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=1)
    assert refused.value.wait is True
    assert 0 < (refused.value.countdown or 0) <= WINDOW_SECONDS
    assert "global:tokens:3s" in str(refused.value) and "used 100 of 100" in str(refused.value)

    rolls_at = refused.value.resets_at.timestamp()
    wait_for(lambda: time.time() >= rolls_at, timeout=WINDOW_SECONDS + 1, what="the window to roll")
    llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=1)


def test_racing_workers_never_reserve_past_the_limit(sluice_env: SluiceEnv) -> None:
    settings = budget_env(sluice_env, "global:tokens:hour=100")
    granted: list[int] = []
    refused: list[int] = []

    def call(index: int) -> None:
        try:
            llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=10)
            granted.append(index)
        except BudgetExceeded:
            refused.append(index)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 10 and len(refused) == 30


def test_key_budgets_hold_each_key_apart(sluice_env: SluiceEnv) -> None:
    settings = budget_env(sluice_env, "key:tokens:hour=50")
    llm_budget.reserve(settings, model="m", api_key_id="alice", estimated_tokens=50)
    with pytest.raises(BudgetExceeded) as refused:
        llm_budget.reserve(settings, model="m", api_key_id="alice", estimated_tokens=1)
    assert refused.value.scope_id == "alice"
    llm_budget.reserve(settings, model="m", api_key_id="bob", estimated_tokens=50)
    used = {(u.rule.name, u.scope_id): u.used for u in llm_budget.usage(settings)}
    assert used == {("key:tokens:hour", "alice"): 50, ("key:tokens:hour", "bob"): 50}


def test_cost_budget_charges_real_usage_at_the_configured_prices(sluice_env: SluiceEnv) -> None:
    settings = budget_env(
        sluice_env, "global:cost:day=0.01",
        llm_price_input_per_million=1000, llm_price_output_per_million=2000,
    )
    call = llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=1)
    call.charge(prompt_tokens=4, completion_tokens=2)  # 0.004 + 0.004
    (window,) = llm_budget.usage(settings)
    assert window.used == pytest.approx(0.008)
    with pytest.raises(BudgetExceeded):  # 2 more tokens at up to 0.002 each pass 0.01
        llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=2)


def test_pause_refuses_every_call_until_resumed(sluice_env: SluiceEnv) -> None:
    settings = budget_env(sluice_env, "")
    llm_budget.pause(settings, by="test", reason="runaway prompt")
    with pytest.raises(LLMPaused) as paused:
        llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=1)
    assert paused.value.wait is True and "runaway prompt" in str(paused.value)
    assert llm_budget.is_paused(settings)
    assert llm_budget.resume(settings, by="test") is True
    llm_budget.reserve(settings, model="m", api_key_id=None, estimated_tokens=1)
