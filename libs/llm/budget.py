"""Cost protection for LLM calls: budgets checked before every call, and a kill switch.

Before a call, :func:`reserve` runs one Lua script in the broker's Redis that checks the
kill switch and every budget rule (``SLUICE_LLM_BUDGETS``) and, only if all pass, adds the
call's estimate to each window's counter. Being one script it is atomic: two workers can
never both take the last tokens of a window. After the call, :meth:`Reservation.charge`
replaces the estimate with the real usage the endpoint reported.

Over budget or paused, :func:`reserve` raises a :class:`~sluice.errors.Retryable` with
``wait=True``: the job goes to ``retrying`` with the reason in its ``error`` and comes back
when the window rolls (or, paused, every ``SLUICE_LLM_PAUSE_RECHECK_SECONDS``). Waiting
never counts toward ``max_retries``: a budget stops spending, it does not fail work.

The kill switch is one Redis key: ``sluice llm pause`` (or ``POST /v1/admin/llm/pause``)
sets it, and the next :func:`reserve` anywhere in the fleet sees it, so no new call starts
once the command returns. Calls already in flight finish.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
import structlog

from libs.llm import metrics
from schemas.budget_rules import BudgetMeasure, BudgetRule, BudgetScope
from sluice.broker_redis import broker_redis
from sluice.errors import Retryable
from sluice.settings import Settings

log = structlog.get_logger(__name__)

PAUSE_KEY = "sluice:llm:paused"
KEY_PREFIX = "sluice:llm:budget"
# Jobs not submitted through the API (mail, crawl, CDC, schedules) share one key scope.
INTERNAL_KEY_ID = "internal"
MICROS = 1_000_000  # costs are counted in millionths, so that Redis adds integers
# Counters outlive their window a little, for metrics and `sluice llm status`.
KEY_TTL_MARGIN_SECONDS = 600

# KEYS[1] the pause key, KEYS[2..] one counter per rule; ARGV per rule: limit, amount, ttl.
# Returns {0} when reserved, {-1} when paused, {i, used} when rule i would be exceeded.
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, 0} end
for i = 2, #KEYS do
  local base = (i - 2) * 3
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used + tonumber(ARGV[base + 2]) > tonumber(ARGV[base + 1]) then return {i - 1, used} end
end
for i = 2, #KEYS do
  local base = (i - 2) * 3
  redis.call('INCRBY', KEYS[i], ARGV[base + 2])
  redis.call('EXPIRE', KEYS[i], ARGV[base + 3])
end
return {0, 0}
"""


class LLMPaused(Retryable):
    """The kill switch is on: no new LLM call starts anywhere in the fleet."""

    def __init__(self, state: PauseState, recheck_seconds: float) -> None:
        super().__init__(
            f"waiting: LLM calls are paused (by {state.by} at {state.at}: {state.reason})",
            countdown=recheck_seconds,
            wait=True,
        )
        self.state = state


class BudgetExceeded(Retryable):
    """A budget window has no room for this call; the job waits for the window to roll."""

    def __init__(
        self, rule: BudgetRule, scope_id: str, used: float, resets_at: datetime, countdown: float
    ) -> None:
        super().__init__(
            f"waiting: LLM budget {rule.name} ({scope_id}) is spent: used {used:g} of "
            f"{rule.limit:g}; the window rolls at {resets_at:%Y-%m-%dT%H:%M:%SZ}",
            countdown=countdown,
            wait=True,
        )
        self.rule = rule
        self.scope_id = scope_id
        self.used = used
        self.resets_at = resets_at


class BudgetUnavailable(Retryable):
    """Redis did not answer the budget check; with budgets set, no call is made without
    one (fail closed)."""


@dataclass(frozen=True)
class PauseState:
    by: str
    reason: str
    at: str


@dataclass(frozen=True)
class WindowCounter:
    """One rule's counter for one scope in one window."""

    rule: BudgetRule
    scope_id: str
    window_start: int

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}:{self.rule.name}:{self.scope_id}:{self.window_start}"

    @property
    def resets_at(self) -> float:
        return float(self.window_start + self.rule.period_seconds)

    def amount(self, tokens: int, cost: float) -> int:
        """What a call adds to this counter: tokens, or cost in millionths."""
        if self.rule.measure is BudgetMeasure.TOKENS:
            return tokens
        return math.ceil(cost * MICROS)

    @property
    def limit(self) -> int:
        if self.rule.measure is BudgetMeasure.TOKENS:
            return int(self.rule.limit)
        return int(self.rule.limit * MICROS)

    def shown(self, value: int) -> float:
        return value / MICROS if self.rule.measure is BudgetMeasure.COST else float(value)


@dataclass
class Reservation:
    """A call's place in every budget window; charge it with the real usage afterwards."""

    settings: Settings
    model: str
    api_key_id: str
    estimated_tokens: int
    counters: list[tuple[WindowCounter, int]] = field(default_factory=list)
    charged: bool = False

    def charge(self, *, prompt_tokens: int, completion_tokens: int) -> None:
        """Replace the estimate with the real usage, in every window it was reserved in."""
        if self.charged:
            return
        self.charged = True
        tokens = prompt_tokens + completion_tokens
        cost = call_cost(self.settings, prompt_tokens, completion_tokens)
        metrics.observe_llm_usage(self.model, prompt_tokens, completion_tokens, cost)
        if not self.counters:
            return
        try:
            pipe = broker_redis(self.settings).pipeline(transaction=True)
            for counter, reserved in self.counters:
                delta = counter.amount(tokens, cost) - reserved
                if delta:
                    pipe.incrby(counter.key, delta)
            pipe.execute()
        except redis.RedisError as exc:
            # The call happened; failing the job now would only repeat it.
            log.warning("could not charge LLM usage to the budget", error=str(exc))


def call_cost(settings: Settings, prompt_tokens: int, completion_tokens: int) -> float:
    return (
        prompt_tokens * settings.llm_price_input_per_million
        + completion_tokens * settings.llm_price_output_per_million
    ) / 1_000_000


def _estimated_cost(settings: Settings, tokens: int) -> float:
    """An upper bound: every estimated token at the dearer of the two prices."""
    price = max(settings.llm_price_input_per_million, settings.llm_price_output_per_million)
    return tokens * price / 1_000_000


def counters_for(settings: Settings, api_key_id: str, now: float) -> list[WindowCounter]:
    counters = []
    for rule in settings.llm_budgets:
        scope_id = "all" if rule.scope is BudgetScope.GLOBAL else api_key_id
        start = int(now // rule.period_seconds) * rule.period_seconds
        counters.append(WindowCounter(rule, scope_id, start))
    return counters


def _wait_seconds(settings: Settings, seconds: float) -> float:
    """How long a waiting job sleeps: until the window rolls, but never so long that the
    broker's visibility timeout would redeliver the delayed message early."""
    ceiling = min(settings.llm_budget_recheck_seconds, settings.visibility_timeout / 2)
    return max(0.05, min(seconds, ceiling))


def reserve(
    settings: Settings, *, model: str, api_key_id: str | None, estimated_tokens: int
) -> Reservation:
    """Check the kill switch and every budget, and hold ``estimated_tokens`` in each.

    Raises :class:`LLMPaused` or :class:`BudgetExceeded` (both make the job wait), or
    :class:`BudgetUnavailable` when Redis does not answer.
    """
    key_id = api_key_id or INTERNAL_KEY_ID
    estimated_tokens = max(1, estimated_tokens)
    now = time.time()
    counters = counters_for(settings, key_id, now)
    estimate_cost = _estimated_cost(settings, estimated_tokens)
    amounts = [c.amount(estimated_tokens, estimate_cost) for c in counters]
    args: list[int] = []
    for counter, amount in zip(counters, amounts, strict=True):
        ttl = int(counter.resets_at - now) + KEY_TTL_MARGIN_SECONDS
        args += [counter.limit, amount, ttl]
    client = broker_redis(settings)
    try:
        keys = [PAUSE_KEY, *(counter.key for counter in counters)]
        outcome = client.eval(_RESERVE, len(keys), *keys, *args)
    except redis.RedisError as exc:
        if not counters:
            # Only the kill switch to check, and the broker's Redis is gone: no job can
            # arrive or finish without it either, so this call (a start-up probe) goes on.
            log.warning("LLM kill switch unreadable; calling anyway", error=str(exc))
            return Reservation(settings, model, key_id, estimated_tokens)
        raise BudgetUnavailable(f"LLM budget check failed: {exc}") from exc
    verdict, used = int(outcome[0]), int(outcome[1])
    if verdict == -1:
        metrics.LLM_CALLS_REFUSED.labels(reason="paused").inc()
        state = pause_state(settings) or PauseState("unknown", "", "")
        raise LLMPaused(state, settings.llm_pause_recheck_seconds)
    if verdict > 0:
        counter = counters[verdict - 1]
        metrics.LLM_CALLS_REFUSED.labels(reason=counter.rule.name).inc()
        resets_at = datetime.fromtimestamp(counter.resets_at, UTC)
        raise BudgetExceeded(
            counter.rule, counter.scope_id, counter.shown(used), resets_at,
            _wait_seconds(settings, counter.resets_at - now),
        )
    return Reservation(
        settings, model, key_id, estimated_tokens, list(zip(counters, amounts, strict=True))
    )


def estimate_tokens(messages: list[dict[str, str]]) -> int:
    """A prompt's size in tokens, roughly (four characters a token), for the reservation.

    The completion is not reserved up front: a window can overshoot by at most the
    completions of the calls in flight when it fills, and every call after that waits.
    """
    return max(1, sum(len(str(message.get("content", ""))) for message in messages) // 4)


def api_key_of_job(job_id: str | None) -> str | None:
    """The API key id that submitted ``job_id`` (default: the job running in this context)."""
    job_id = job_id or structlog.contextvars.get_contextvars().get("job_id")
    if not job_id:
        return None
    try:
        from sluice.stores import get_store

        return get_store().get(str(job_id)).api_key_id
    except Exception:  # no job (a probe call): the internal scope
        return None


# ---- the kill switch ------------------------------------------------------------------


def pause(settings: Settings, *, by: str, reason: str = "") -> PauseState:
    state = PauseState(by=by, reason=reason, at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    broker_redis(settings).set(PAUSE_KEY, json.dumps(state.__dict__))
    log.warning("LLM calls paused fleet-wide", by=by, reason=reason)
    return state


def resume(settings: Settings, *, by: str) -> bool:
    """Lift the kill switch; False if it was not on."""
    lifted = bool(broker_redis(settings).delete(PAUSE_KEY))
    log.warning("LLM calls resumed", by=by, was_paused=lifted)
    return lifted


def pause_state(settings: Settings) -> PauseState | None:
    raw = broker_redis(settings).get(PAUSE_KEY)
    if raw is None:
        return None
    try:
        return PauseState(**json.loads(raw))
    except (ValueError, TypeError):
        return PauseState(by="unknown", reason=str(raw), at="")


def is_paused(settings: Settings) -> bool:
    return bool(broker_redis(settings).exists(PAUSE_KEY))


# ---- what has been spent --------------------------------------------------------------


@dataclass(frozen=True)
class BudgetUsage:
    rule: BudgetRule
    scope_id: str
    used: float
    limit: float
    resets_at: datetime


def usage(settings: Settings) -> list[BudgetUsage]:
    """Every current window with a counter: the global ones, and each key that spent."""
    client = broker_redis(settings)
    now = time.time()
    found: list[BudgetUsage] = []
    for rule in settings.llm_budgets:
        start = int(now // rule.period_seconds) * rule.period_seconds
        pattern = f"{KEY_PREFIX}:{rule.name}:*:{start}"
        keys = sorted(client.scan_iter(match=pattern, count=500))
        if rule.scope is BudgetScope.GLOBAL and not keys:
            keys = [f"{KEY_PREFIX}:{rule.name}:all:{start}".encode()]
        values = client.mget(keys) if keys else []
        for key, value in zip(keys, values, strict=True):
            scope_id = key.decode().split(":")[-2]
            counter = WindowCounter(rule, scope_id, start)
            found.append(
                BudgetUsage(
                    rule, scope_id, counter.shown(int(value or 0)), rule.limit,
                    datetime.fromtimestamp(counter.resets_at, UTC),
                )
            )
    return found
