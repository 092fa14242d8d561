"""Per-domain token buckets in the broker's Redis, shared by every crawler thread and process.

A bucket refills at ``rate`` tokens a second up to ``capacity``; a request takes one token.
The script runs atomically inside Redis and reads Redis's own clock, so workers on machines
with skewed clocks still share one honest rate per domain. A robots.txt ``Crawl-delay``
lowers the rate to one request per delay.
"""

from __future__ import annotations

import redis

KEY_PREFIX = "sluice:crawl:bucket:"
TAKE_TOKEN = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp'))
if tokens == nil or stamp == nil then
  tokens = capacity
  stamp = now
end
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""

DRAIN = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
redis.call('HSET', KEYS[1], 'tokens', '0', 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return 1
"""


class DomainRateLimiter:
    def __init__(self, client: redis.Redis) -> None:
        self._take = client.register_script(TAKE_TOKEN)
        self._drain = client.register_script(DRAIN)

    def drain(self, domain: str) -> None:
        """Empty the bucket now: the request just made counts against the next one.

        robots.txt is fetched before its Crawl-delay is known; draining afterwards makes the
        first page wait the delay after it, as the site asked."""
        self._drain(keys=[KEY_PREFIX + domain], args=[])

    def try_take(self, domain: str, *, rate: float, capacity: int) -> float:
        """Take a token: 0.0 when one was taken, else the seconds until one will be there."""
        return float(self._take(keys=[KEY_PREFIX + domain], args=[rate, capacity]))
