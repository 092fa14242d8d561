"""When an extraction stops, as a pure function of its budget and its attempt ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas.attempt import Attempt, AttemptOutcome, FieldError
from schemas.job import DeadReason, utcnow
from sluice.settings import Settings
from workers.extraction.budget import (
    Budget,
    BudgetExceeded,
    check_next_attempt,
    fingerprint,
    tokens_spent,
)

BUDGET = Budget(max_attempts=3, max_tokens=1000, max_seconds=60)


def attempt(number: int, outcome: AttemptOutcome = AttemptOutcome.INVALID, *,
            bad: str = "48", raw: str = "{}", tokens: int = 10) -> Attempt:
    errors = [FieldError(loc=["order_id"], type="not_in_source", msg="m", input=bad)]
    return Attempt(
        number=number, outcome=outcome, raw_text=raw, prompt_tokens=tokens, completion_tokens=0,
        errors=errors if outcome is AttemptOutcome.INVALID else [],
    )


def stop(attempts: list[Attempt], started_ago: float | None = None) -> BudgetExceeded:
    started = None if started_ago is None else utcnow() - timedelta(seconds=started_ago)
    with pytest.raises(BudgetExceeded) as caught:
        check_next_attempt(BUDGET, attempts, started)
    return caught.value


def test_a_fresh_job_and_a_changing_mistake_may_try_again() -> None:
    check_next_attempt(BUDGET, [], None)
    check_next_attempt(BUDGET, [attempt(1, bad="48"), attempt(2, bad="4821")], utcnow())


def test_the_same_error_twice_stops_early_as_exhausted() -> None:
    stopped = stop([attempt(1), attempt(2)])
    assert stopped.reason is DeadReason.EXHAUSTED
    assert "attempts 1 and 2" in str(stopped)


def test_the_same_unparseable_text_twice_stops_but_two_truncations_do_not() -> None:
    parse = AttemptOutcome.PARSE_ERROR
    assert stop([attempt(1, parse, raw="no"), attempt(2, parse, raw=" no ")]).reason is (
        DeadReason.EXHAUSTED
    )
    cut = AttemptOutcome.TRUNCATED
    check_next_attempt(BUDGET, [attempt(1, cut, raw="{"), attempt(2, cut, raw="{")], None)


def test_attempts_run_out_and_a_truncation_earns_one_more() -> None:
    three = [attempt(1, bad="a"), attempt(2, bad="b"), attempt(3, bad="c")]
    assert "no valid output in 3 attempts" in str(stop(three))
    truncated = [attempt(1, AttemptOutcome.TRUNCATED), attempt(2, bad="b"), attempt(3, bad="c")]
    check_next_attempt(BUDGET, truncated, None)
    assert stop([*truncated, attempt(4, bad="d")]).reason is DeadReason.EXHAUSTED


def test_tokens_and_wall_time_are_budgets() -> None:
    spent = stop([attempt(1, tokens=600, bad="a"), attempt(2, tokens=400, bad="b")])
    assert spent.reason is DeadReason.BUDGET and "1000 of 1000" in str(spent)
    late = stop([attempt(1)], started_ago=61)
    assert late.reason is DeadReason.BUDGET and "wall-time" in str(late)


def test_fingerprints_compare_rules_and_values_not_messages() -> None:
    one, two = attempt(1), attempt(2)
    two.errors[0].msg = "worded differently"
    assert fingerprint(one) == fingerprint(two) != fingerprint(attempt(3, bad="49"))
    assert tokens_spent([attempt(1, tokens=7), attempt(2, tokens=5)]) == 12


def test_a_job_may_override_its_budget() -> None:
    defaults = Settings(extract_max_attempts=3, extract_max_tokens=500, extract_max_seconds=9)
    assert Budget.for_job(defaults, None) == Budget(3, 500, 9.0)
    assert Budget.for_job(defaults, {"attempts": 5, "seconds": 1.5}) == Budget(5, 500, 1.5)
