"""The one token bucket (API submissions, crawl domains), against the tests' real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from cli.embedded_redis import EmbeddedRedis
from libs.token_bucket import TokenBucket

PREFIX = "test:bucket:"


@pytest.fixture
def client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    connection = redis.Redis(unix_socket_path=str(redis_server.socket_path))
    connection.flushall()
    yield connection
    connection.close()


def redis_now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds) + micros / 1_000_000


def test_the_token_bucket_spaces_requests_at_its_rate(client: redis.Redis) -> None:
    limiter = TokenBucket(client, PREFIX)
    assert limiter.take("a.example", rate=2, capacity=2) == 0
    assert limiter.take("a.example", rate=2, capacity=2) == 0
    wait = limiter.take("a.example", rate=2, capacity=2)
    assert 0.3 < wait <= 0.5
    assert limiter.take("b.example", rate=2, capacity=2) == 0  # per domain
    time.sleep(wait)
    assert limiter.take("a.example", rate=2, capacity=2) == 0
    limiter.drain("a.example")
    assert limiter.take("a.example", rate=1, capacity=1) > 0.9


def test_a_refused_take_of_several_tokens_takes_none(client: redis.Redis) -> None:
    buckets = TokenBucket(client, PREFIX)
    assert buckets.take("key", rate=1 / 60, capacity=3, cost=2) == 0
    wait = buckets.take("key", rate=1 / 60, capacity=3, cost=2)
    assert 50 < wait <= 60  # one token left, one more comes in a minute
    assert buckets.take("key", rate=1 / 60, capacity=3, cost=1) == 0  # the one left is there


def test_the_bucket_keeps_time_by_the_redis_clock(client: redis.Redis) -> None:
    buckets = TokenBucket(client, PREFIX)
    before = redis_now(client)
    buckets.take("key", rate=1, capacity=5, cost=5)
    stamp = float(client.hget(PREFIX + "key", "stamp") or 0)
    assert before <= stamp <= redis_now(client)
    # Ten seconds ago by Redis's clock, whatever this process's clock says: full again.
    client.hset(PREFIX + "key", mapping={"tokens": "0", "stamp": str(redis_now(client) - 10)})
    assert buckets.take("key", rate=1, capacity=5, cost=5) == 0


def test_buckets_expire_once_they_would_be_full_again(client: redis.Redis) -> None:
    TokenBucket(client, PREFIX).take("key", rate=1, capacity=10)
    assert 0 < client.ttl(PREFIX + "key") <= 10 + 60


def test_a_bucket_without_rate_or_capacity_is_refused(client: redis.Redis) -> None:
    with pytest.raises(ValueError):
        TokenBucket(client, PREFIX).take("key", rate=0, capacity=1)
