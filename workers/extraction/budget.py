"""When an extraction stops: attempts, tokens, wall time, and a model that repeats itself.

Checked from the ledger before every attempt, so a redelivered job is held to what it
already spent. Attempts run out -> ``dead/exhausted``; tokens or wall time -> ``dead/budget``.
The same mistake twice in a row (same fields, same rules, same bad values, or the same
unparseable text) stops early as ``exhausted``: a third try would cost tokens to learn
nothing. A truncated output earns one extra attempt with a larger ``max_tokens``.
Agreement samples are not attempts (they never count toward the attempt limit or the same
error twice) but their tokens and time are spent like any other call's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.attempt import Attempt, AttemptOutcome
from schemas.job import DeadReason, utcnow
from sluice.settings import Settings


@dataclass(frozen=True)
class Budget:
    max_attempts: int
    max_tokens: int
    max_seconds: float

    @classmethod
    def for_job(cls, settings: Settings, overrides: dict[str, float] | None) -> Budget:
        overrides = overrides or {}
        return cls(
            max_attempts=int(overrides.get("attempts", settings.extract_max_attempts)),
            max_tokens=int(overrides.get("tokens", settings.extract_max_tokens)),
            max_seconds=float(overrides.get("seconds", settings.extract_max_seconds)),
        )


class BudgetExceeded(Exception):
    """No further attempt: ``reason`` is ``exhausted`` or ``budget``."""

    def __init__(self, reason: DeadReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def tokens_spent(attempts: list[Attempt]) -> int:
    return sum(attempt.tokens for attempt in attempts)


def fingerprint(attempt: Attempt) -> tuple[object, ...]:
    """What makes two failures "the same error": rules broken and the values that broke them."""
    if attempt.outcome in (AttemptOutcome.INVALID, AttemptOutcome.UNVERIFIED):
        errors = attempt.errors
        return tuple(sorted((tuple(map(str, e.loc)), e.type, repr(e.input)) for e in errors))
    return (attempt.outcome.value, attempt.raw_text.strip())


def check_next_attempt(
    budget: Budget, ledger: list[Attempt], started_at: datetime | None
) -> None:
    """Raise :class:`BudgetExceeded` if no further attempt may start."""
    attempts = [attempt for attempt in ledger if not attempt.sample]
    if len(attempts) >= 2:
        last, before = attempts[-1], attempts[-2]
        if (
            last.outcome is not AttemptOutcome.TRUNCATED
            and last.outcome is before.outcome
            and fingerprint(last) == fingerprint(before)
        ):
            raise BudgetExceeded(
                DeadReason.EXHAUSTED,
                f"the same error twice in a row (attempts {before.number} and {last.number})",
            )
    allowance = 1 if any(a.outcome is AttemptOutcome.TRUNCATED for a in attempts) else 0
    if len(attempts) >= budget.max_attempts + allowance:
        raise BudgetExceeded(
            DeadReason.EXHAUSTED, f"no valid output in {len(attempts)} attempts"
        )
    check_next_sample(budget, ledger, started_at)


def check_next_sample(
    budget: Budget, ledger: list[Attempt], started_at: datetime | None
) -> None:
    """Raise :class:`BudgetExceeded` if the tokens (samples' included) or the time are spent."""
    spent = tokens_spent(ledger)
    if spent >= budget.max_tokens:
        raise BudgetExceeded(
            DeadReason.BUDGET, f"token budget spent: {spent} of {budget.max_tokens}"
        )
    if started_at is not None:
        elapsed = (utcnow() - started_at).total_seconds()
        if elapsed >= budget.max_seconds:
            raise BudgetExceeded(
                DeadReason.BUDGET,
                f"wall-time budget spent: {elapsed:.0f}s of {budget.max_seconds:.0f}s",
            )
