"""Parsing LLM budget rules as operators write them: ``SCOPE:MEASURE:PERIOD=LIMIT``."""

from __future__ import annotations

import pytest

from schemas.budget_rules import (
    BudgetMeasure,
    BudgetScope,
    InvalidBudgetRule,
    parse_rule,
    parse_rules,
)


def test_a_rule_reads_scope_measure_period_and_limit() -> None:
    rule = parse_rule(" global:tokens:hour=2000000 ")
    assert (rule.scope, rule.measure) == (BudgetScope.GLOBAL, BudgetMeasure.TOKENS)
    assert (rule.period_seconds, rule.limit) == (3600, 2_000_000.0)
    assert rule.name == "global:tokens:hour"
    assert str(rule) == "global:tokens:hour=2e+06"


def test_periods_are_hour_day_or_seconds_and_names_round_trip() -> None:
    assert parse_rule("key:cost:day=1.5").period_seconds == 86400
    assert parse_rule("key:cost:day=1.5").name == "key:cost:day"
    ninety = parse_rule("key:tokens:90s=100")
    assert (ninety.period_seconds, ninety.name) == (90, "key:tokens:90s")
    assert parse_rule("global:tokens:3600s=1").name == "global:tokens:hour"


@pytest.mark.parametrize("text", [
    "", "global:tokens=5", "tenant:tokens:hour=5", "global:calls:hour=5",
    "global:tokens:week=5", "global:tokens:hour=-5", "global:tokens:hour=lots",
    "global:tokens:0s=5",
])
def test_anything_else_is_refused_with_the_expected_shape(text: str) -> None:
    with pytest.raises(InvalidBudgetRule, match=r"SCOPE:MEASURE:PERIOD=LIMIT|at least 1s"):
        parse_rule(text)


def test_the_settings_validator_splits_strings_and_passes_rules_through() -> None:
    rules = parse_rules("global:tokens:hour=10, key:cost:day=2,")
    assert isinstance(rules, list)
    assert [rule.name for rule in rules] == ["global:tokens:hour", "key:cost:day"]
    assert parse_rules(rules) == rules
    assert parse_rules(["key:tokens:hour=1"]) == [parse_rule("key:tokens:hour=1")]
    assert parse_rules(None) is None
