"""LLM budget rules as operators write them: ``SCOPE:MEASURE:PERIOD=LIMIT``.

``SLUICE_LLM_BUDGETS=global:tokens:hour=2000000,global:cost:day=50,key:tokens:hour=200000``
caps the whole fleet at two million tokens an hour and 50 (currency units) a day, and
every API key at 200,000 tokens an hour. ``PERIOD`` is ``hour``, ``day`` or a number of
seconds (``90s``); windows are aligned to the epoch (whole UTC hours and days), so every
process agrees on when a window rolls without talking to the others.

This module only parses; :mod:`libs.llm.budget` enforces.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class BudgetScope(StrEnum):
    GLOBAL = "global"  # the whole fleet
    KEY = "key"  # each API key on its own


class BudgetMeasure(StrEnum):
    TOKENS = "tokens"
    COST = "cost"


PERIODS = {"hour": 3600, "day": 86400}
_RULE = re.compile(
    r"^(?P<scope>global|key):(?P<measure>tokens|cost):(?P<period>hour|day|\d+s)"
    r"=(?P<limit>\d+(?:\.\d+)?)$"
)


class InvalidBudgetRule(ValueError):
    """A budget rule that does not read ``SCOPE:MEASURE:PERIOD=LIMIT``."""


class BudgetRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: BudgetScope
    measure: BudgetMeasure
    period_seconds: int
    limit: float

    @property
    def name(self) -> str:
        """Stable id used in Redis keys, metrics labels and messages (``global:tokens:hour``)."""
        period = {v: k for k, v in PERIODS.items()}.get(
            self.period_seconds, f"{self.period_seconds}s"
        )
        return f"{self.scope}:{self.measure}:{period}"

    def __str__(self) -> str:
        return f"{self.name}={self.limit:g}"


def parse_rule(text: str) -> BudgetRule:
    match = _RULE.match(text.strip())
    if match is None:
        raise InvalidBudgetRule(
            f"budget rule {text!r} does not read SCOPE:MEASURE:PERIOD=LIMIT "
            "(scope global|key, measure tokens|cost, period hour|day|<N>s)"
        )
    period = match["period"]
    seconds = PERIODS[period] if period in PERIODS else int(period[:-1])
    if seconds < 1:
        raise InvalidBudgetRule(f"budget rule {text!r}: the period must be at least 1s")
    return BudgetRule(
        scope=BudgetScope(match["scope"]),
        measure=BudgetMeasure(match["measure"]),
        period_seconds=seconds,
        limit=float(match["limit"]),
    )


def parse_rules(value: object) -> object:
    """Settings validator: a comma-separated string becomes rules; anything else passes."""
    if isinstance(value, str):
        return [parse_rule(item) for item in value.split(",") if item.strip()]
    if isinstance(value, list):
        return [parse_rule(item) if isinstance(item, str) else item for item in value]
    return value
