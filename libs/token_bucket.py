"""Token buckets in Redis, on Redis's clock: the API's per-key submission limit and the
crawler's per-domain request rate.

A bucket refills at ``rate`` tokens a second up to ``capacity``; a take of ``cost`` tokens
succeeds when that many are there, else it takes nothing and says how long until they
will be. Refill and take run in one Lua script, atomically inside Redis, and the script
reads Redis's own ``TIME``, never the caller's clock: API processes and crawler workers on
machines whose clocks disagree still share one honest rate per bucket.
"""

from __future__ import annotations

import redis

# KEYS[1] the bucket; ARGV: rate (tokens a second), capacity, cost.
# Returns the seconds until ``cost`` tokens will be there: "0" when they were taken.
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(bucket[1])
local stamp = tonumber(bucket[2])
if tokens == nil or stamp == nil then
  tokens = capacity
  stamp = now
end
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""

# KEYS[1] the bucket; ARGV: how long to keep the empty bucket, in seconds.
_DRAIN = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('HSET', KEYS[1], 'tokens', '0', 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
"""


class TokenBucket:
    """The buckets under one key prefix (``sluice:crawl:bucket:``, one per domain, say)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._drain = client.register_script(_DRAIN)

    def take(self, name: str, *, rate: float, capacity: float, cost: float = 1) -> float:
        """Take ``cost`` tokens from bucket ``name``: 0.0 when taken, else the seconds until
        enough will be there (nothing is taken then)."""
        if rate <= 0 or capacity <= 0:
            raise ValueError(f"a token bucket needs rate > 0 and capacity > 0: {rate}, {capacity}")
        return float(self._take(keys=[self._prefix + name], args=[rate, capacity, cost]))

    def drain(self, name: str, *, keep_seconds: int = 3600) -> None:
        """Empty bucket ``name`` now, so the next take waits a whole refill."""
        self._drain(keys=[self._prefix + name], args=[keep_seconds])
