"""Per-key submission rate limits: a token bucket per API key, kept in the broker's Redis.

Each key may submit ``SLUICE_SUBMIT_RATE_PER_MINUTE`` jobs a minute on average and up to
``SLUICE_SUBMIT_BURST`` at once. The bucket is refilled and taken from in one Lua script,
so several API processes share one limit exactly. A refused caller is told how long to
wait (the API answers 429 with ``Retry-After``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from prometheus_client import Counter

from sluice.broker_redis import broker_redis
from sluice.settings import Settings

KEY_PREFIX = "sluice:ratelimit:submit"

# KEYS[1] the bucket; ARGV: capacity, refill per second, now, cost.
# Returns {1, 0} when taken, {0, seconds_until_enough} when refused.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local ttl = math.ceil(capacity / rate) + 1
if tokens >= cost then
  redis.call('HSET', KEYS[1], 'tokens', tokens - cost, 'at', now)
  redis.call('EXPIRE', KEYS[1], ttl)
  return {1, '0'}
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], ttl)
return {0, tostring((cost - tokens) / rate)}
"""

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
    capacity = settings.submit_burst or per_minute
    rate = per_minute / 60.0
    allowed, wait = broker_redis(settings).eval(
        _TAKE, 1, f"{KEY_PREFIX}:{key_id}", capacity, rate, time.time(), cost
    )
    if int(allowed):
        return RateDecision(True, 0)
    RATE_LIMITED.labels(key=key_id).inc()
    return RateDecision(False, max(1, math.ceil(float(wait))))
