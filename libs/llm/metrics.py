"""The LLM client's Prometheus instruments, and its budget gauges for the fleet metrics.

Tokens and cost per model, calls held back by a budget or the kill switch, and outputs that
failed schema validation are counted where they happen; :func:`budget_gauges` is read at
scrape time by :class:`sluice.fleet_metrics.FleetCollector` in the API.
"""

from __future__ import annotations

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from sluice.settings import Settings

LLM_TOKENS = Counter("sluice_llm_tokens_total", "Tokens the LLM reported.", ["model", "type"])
LLM_COST = Counter(
    "sluice_llm_cost_total", "Cost of LLM calls at the configured prices.", ["model"]
)
LLM_CALLS_REFUSED = Counter(
    "sluice_llm_calls_refused_total", "LLM calls held back by a budget or the kill switch.",
    ["reason"],
)
VALIDATION_FAILURES = Counter(
    "sluice_validation_failures_total", "LLM outputs that failed schema validation.",
    ["schema", "signature"],
)


def observe_llm_usage(model: str, prompt_tokens: int, completion_tokens: int, cost: float) -> None:
    LLM_TOKENS.labels(model=model, type="prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(model=model, type="completion").inc(completion_tokens)
    LLM_COST.labels(model=model).inc(cost)


def observe_validation_failure(schema: str, signature: str) -> None:
    VALIDATION_FAILURES.labels(schema=schema, signature=signature[:120]).inc()


def budget_gauges(settings: Settings) -> list[GaugeMetricFamily]:
    """The kill switch and every budget window's use and limit, from Redis."""
    from libs.llm import budget as llm_budget

    paused = GaugeMetricFamily("sluice_llm_paused", "1 while the LLM kill switch is on.")
    used = GaugeMetricFamily(
        "sluice_llm_budget_used", "Spent in the current window of a budget rule.",
        labels=["rule", "scope"],
    )
    limit = GaugeMetricFamily(
        "sluice_llm_budget_limit", "Limit of a budget rule's window.", labels=["rule", "scope"]
    )
    paused.add_metric([], 1.0 if llm_budget.is_paused(settings) else 0.0)
    for window in llm_budget.usage(settings):
        used.add_metric([window.rule.name, window.scope_id], window.used)
        limit.add_metric([window.rule.name, window.scope_id], window.limit)
    return [paused, used, limit]
