from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cli.embedded_redis import EmbeddedRedis
from tests.conftest import SluiceEnv, make_env
from tests.producers.crawl.site import FixtureSite

PLUGINS = "tests.support.kernel_tasks,tests.producers.email.kinds"


def crawl_env(redis_server: EmbeddedRedis, tmp_path: Path, **overrides: object) -> SluiceEnv:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    values: dict[str, object] = {
        "plugins": PLUGINS,
        "crawl_allowed_networks": "127.0.0.1/32",
        "crawl_requests_per_second": 200,
        "crawl_burst": 50,
        "crawl_max_page_bytes": 1024 * 1024,
        "crawl_timeout_seconds": 10,
        "task_time_limit": 30,
        "task_soft_time_limit": 25,
        "visibility_timeout": 60,
        **overrides,
    }
    return make_env(tmp_path, redis_server.url, **values)


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    with FixtureSite() as server:
        yield server


@pytest.fixture(scope="module")
def crawler(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SluiceEnv]:
    """One Sluice and one io worker for the module: a worker takes seconds to start, and
    each test crawls its own fixture site (its own port, its own crawl id)."""
    env = crawl_env(redis_server, tmp_path_factory.mktemp("crawler"))
    env.worker(queues="io", concurrency=4)
    yield env
    for worker in env.workers:
        worker.stop()
    env.store.close()
