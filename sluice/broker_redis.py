"""Redis clients on the broker's Redis, for state the fleet shares outside Celery.

LLM budgets, the LLM kill switch, submission rate limits and queue-depth metrics live in
the broker's Redis: every process already reaches it, and its single-threaded scripts give
the atomic check-and-charge those need. One client per (process, URL): a forked prefork
child gets its own connections instead of sharing its parent's sockets.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import parse_qs, urlsplit

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from sluice.settings import Settings

SOCKET_TIMEOUT_SECONDS = 5.0


def _retry() -> Retry:
    """Two quick retries: a budget check must fail fast, not stall a worker for seconds."""
    return Retry(ExponentialBackoff(cap=0.5, base=0.05), 2)


_clients: dict[tuple[int, str], redis.Redis] = {}
_lock = threading.Lock()


def embedded_broker_url(settings: Settings) -> str:
    return f"redis+socket://{(settings.data_dir / 'redis.sock').resolve()}"


def broker_url(settings: Settings) -> str:
    return settings.broker_url or embedded_broker_url(settings)


class UnsupportedBrokerUrl(ValueError):
    """The broker URL is not a Redis URL this module can open."""


def unix_socket(url: str) -> tuple[str, int] | None:
    """(socket path, db) for kombu's ``redis+socket://`` URLs; None for ``redis://``."""
    parts = urlsplit(url)
    if parts.scheme in ("redis+socket", "socket", "unix"):
        return parts.path, int(parse_qs(parts.query).get("virtual_host", ["0"])[0] or 0)
    if parts.scheme in ("redis", "rediss"):
        return None
    raise UnsupportedBrokerUrl(f"not a Redis URL: {parts.scheme}://...")


def redis_from_broker_url(url: str) -> redis.Redis:
    """A new client for ``redis://``, ``rediss://`` or kombu's ``redis+socket://`` URLs."""
    socket = unix_socket(url)
    if socket is not None:
        return redis.Redis(
            unix_socket_path=socket[0], db=socket[1], socket_timeout=SOCKET_TIMEOUT_SECONDS,
            health_check_interval=30, retry=_retry(),
        )
    return redis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=5,
        health_check_interval=30, retry=_retry(),
    )


def async_redis(settings: Settings) -> redis.asyncio.Redis:
    """A new asyncio client, for API handlers that relay token streams: an async handler
    must not block the event loop on the shared synchronous client. Close it when done."""
    url = broker_url(settings)
    socket = unix_socket(url)
    if socket is not None:
        return redis.asyncio.Redis(unix_socket_path=socket[0], db=socket[1])
    return redis.asyncio.Redis.from_url(url)


def broker_redis(settings: Settings) -> redis.Redis:
    """The process-wide client for the configured broker."""
    url = broker_url(settings)
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = redis_from_broker_url(url)
    return client
