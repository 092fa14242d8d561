"""The exact-match response cache: a temperature-0 call asked twice is answered once.

A call is cached only when its temperature is 0 (any other answer is a sample, and a
repeat is the point) and its caller allows it (``cache=True`` on
:func:`libs.llm.chat.chat`; extraction does not allow it on correction attempts, where a
repeat is the very problem, unless ``SLUICE_LLM_CACHE_CORRECTIONS`` says so). The key is
everything that decides the answer: endpoint, model, the messages as sent (after
redaction), the decoding schema (``response_format``) and the sampling parameters.

Entries live in the broker's Redis under :data:`KEY_PREFIX` with a TTL
(``SLUICE_LLM_CACHE_TTL_SECONDS``) and a size bound (``SLUICE_LLM_CACHE_MAX_ENTRIES``):
an index sorted by last use evicts the least recently used entry when a store would go
over it. The cache is best effort: Redis failing is logged and the call goes on uncached.
A hit costs no tokens and no budget, and is counted in ``sluice_llm_cache_total``.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import redis
import structlog
from prometheus_client import Counter

from sluice.broker_redis import broker_redis
from sluice.settings import Settings

log = structlog.get_logger(__name__)

KEY_PREFIX = "sluice:llm:cache"
INDEX_KEY = f"{KEY_PREFIX}:index"  # sorted set: entry key -> last use (epoch seconds)

LLM_CACHE = Counter(
    "sluice_llm_cache_total", "LLM response cache lookups and stores.", ["result"]
)
LLM_CACHE_SAVED_TOKENS = Counter(
    "sluice_llm_cache_saved_tokens_total",
    "Tokens the cached answers cost when they were first asked.", ["model"],
)

# KEYS[1] the entry, KEYS[2] the index; ARGV: value, ttl, now, max entries.
# Store, note its use, then drop the least recently used entries over the bound (and index
# rows whose entry has expired on its own).
_STORE = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for _, key in ipairs(oldest) do redis.call('DEL', key) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
return over
"""


@dataclass(frozen=True)
class CachedAnswer:
    """What a cached call returns: the answer, and what it cost when it was first asked."""

    model: str
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


def cacheable(settings: Settings, temperature: float, allowed: bool) -> bool:
    return settings.llm_cache and allowed and temperature == 0


def cache_key(
    base_url: str,
    model: str,
    messages: list[dict[str, str]],
    *,
    response_format: dict[str, Any] | None,
    max_tokens: int,
    temperature: float,
    stream: bool = False,
) -> str:
    """The entry's key: a hash of everything the request sends that shapes the answer."""
    request = {
        "endpoint": base_url.rstrip("/"),
        "model": model,
        "messages": messages,
        "response_format": response_format,
        "sampling": {"max_tokens": max_tokens, "temperature": temperature},
        "stream": stream,
    }
    encoded = json.dumps(request, sort_keys=True, separators=(",", ":")).encode()
    return f"{KEY_PREFIX}:{hashlib.sha256(encoded).hexdigest()}"


def lookup(settings: Settings, key: str) -> CachedAnswer | None:
    """The cached answer for ``key``, or None (a miss, or Redis not answering)."""
    client = broker_redis(settings)
    try:
        raw = client.get(key)
        if raw is not None:
            client.zadd(INDEX_KEY, {key: time.time()}, xx=True)  # least recently *used*
    except redis.RedisError as exc:
        log.warning("LLM cache unreadable; calling the model", error=str(exc))
        return None
    if raw is None:
        LLM_CACHE.labels(result="miss").inc()
        return None
    try:
        answer = CachedAnswer(**json.loads(raw))
    except (ValueError, TypeError):
        LLM_CACHE.labels(result="miss").inc()
        return None
    LLM_CACHE.labels(result="hit").inc()
    LLM_CACHE_SAVED_TOKENS.labels(model=answer.model).inc(
        answer.prompt_tokens + answer.completion_tokens
    )
    return answer


def store(settings: Settings, key: str, answer: CachedAnswer) -> None:
    """Keep ``answer`` for the TTL, evicting the least recently used over the bound."""
    value = json.dumps(answer.__dict__, separators=(",", ":"))
    try:
        broker_redis(settings).eval(
            _STORE, 2, key, INDEX_KEY, value, settings.llm_cache_ttl_seconds, time.time(),
            settings.llm_cache_max_entries,
        )
    except redis.RedisError as exc:
        log.warning("LLM cache not written", error=str(exc))
        return
    LLM_CACHE.labels(result="store").inc()

