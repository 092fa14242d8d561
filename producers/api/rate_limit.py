"""Per-key submission rate limits, as a FastAPI dependency: 429 with ``Retry-After``.

Each API key may submit ``SLUICE_SUBMIT_RATE_PER_MINUTE`` jobs a minute on average and up
to ``SLUICE_SUBMIT_BURST`` at once: a :class:`~libs.token_bucket.TokenBucket` per key in
the broker's Redis, so several API processes share one limit exactly. A refused caller is
told how long to wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, status
from prometheus_client import Counter

from libs.token_bucket import TokenBucket
from producers.api.auth import authenticated
from producers.api.dependencies import SettingsDep
from schemas.principal import Principal
from sluice.broker_redis import broker_redis
from sluice.settings import Settings

KEY_PREFIX = "sluice:ratelimit:submit:"

RATE_LIMITED = Counter(
    "sluice_api_rate_limited_total", "Submissions refused by the per-key rate limit.", ["key"]
)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int


def take(settings: Settings, key_id: str, cost: int = 1) -> RateDecision:
    """Take ``cost`` submissions from ``key_id``'s bucket; always allowed with no limit set."""
    per_minute = settings.submit_rate_per_minute
    if per_minute is None:
        return RateDecision(True, 0)
    buckets = TokenBucket(broker_redis(settings), KEY_PREFIX)
    wait = buckets.take(
        key_id, rate=per_minute / 60.0, capacity=settings.submit_burst or per_minute, cost=cost
    )
    if wait <= 0:
        return RateDecision(True, 0)
    RATE_LIMITED.labels(key=key_id).inc()
    return RateDecision(False, max(1, math.ceil(wait)))


def submission_allowed(
    caller: Annotated[Principal, Depends(authenticated)], settings: SettingsDep
) -> None:
    decision = take(settings, caller.key_id)
    if not decision.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"submission rate limit of {settings.submit_rate_per_minute}/minute "
            f"for this key; retry in {decision.retry_after_seconds}s",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )


SubmissionAllowed = Annotated[None, Depends(submission_allowed)]
