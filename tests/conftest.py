"""Shared fixtures: a private Redis per session; per test a clean data dir, store and API.

Workers are real ``sluice worker`` subprocesses; nothing here is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from fastapi.testclient import TestClient

from cli.embedded_redis import EmbeddedRedis, start_redis
from cli.kinds import load_kinds
from sluice.celery_app import create_celery_app
from sluice.settings import Settings, load_settings
from sluice.stores import JobStore, open_store
from tests.support.mongo import drop_named_databases, new_database
from tests.support.processes import WorkerProcess, start_worker

REPO_ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-key"


@pytest.fixture(scope="session", autouse=True)
def mongodb_databases_dropped() -> Iterator[None]:
    """With SLUICE_MONGODB_URL: drop every database this session named, at its end."""
    yield
    drop_named_databases()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database for this session (created, dropped at the end), or a skip."""
    from tests.support.postgres import throwaway_database

    with throwaway_database() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    from tests.support.postgres import empty

    empty(postgres_database)
    return postgres_database


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = start_redis(tmp_path_factory.mktemp("redis"), appendonly=False)
    yield server
    server.stop()


def test_settings(data_dir: Path, broker_url: str, **overrides: Any) -> dict[str, Any]:
    """Fast timings: a killed worker's message comes back within seconds, not an hour.

    With ``SLUICE_MONGODB_URL`` exported, each call names a MongoDB database of its own
    (tests/support/mongo.py), so no test counts another's jobs or touches a real one."""
    database = None if "mongodb_database" in overrides else new_database()
    return {
        **({"mongodb_database": database} if database else {}),
        "data_dir": str(data_dir),
        "broker_url": broker_url,
        "api_keys": API_KEY,
        "visibility_timeout": 6,
        "task_time_limit": 5,
        "task_soft_time_limit": 4,
        "retry_backoff_seconds": 0.1,
        "retry_backoff_max_seconds": 0.5,
        "stranded_after_seconds": 1,
        "plugins": "tests.support.kernel_tasks",
        **overrides,
    }


@dataclass
class SluiceEnv:
    """One test's Sluice: settings, the same settings as environment for subprocesses."""

    settings: Settings
    env: dict[str, str]
    celery: Celery
    store: JobStore
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def worker(self, **options: Any) -> WorkerProcess:
        worker = start_worker(self.env, self.celery, self.tmp, **options)
        self.workers.append(worker)
        return worker

    def api(self) -> TestClient:
        from producers.api.app import create_app

        return TestClient(create_app(self.settings))

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}


def make_env(tmp: Path, broker_url: str, **overrides: Any) -> SluiceEnv:
    import os

    values = test_settings(tmp / "data", broker_url, **overrides)
    env = {
        **os.environ,
        **{f"SLUICE_{name.upper()}": str(value) for name, value in values.items()},
        "PYTHONPATH": str(REPO_ROOT),
    }
    settings = load_settings(**values)
    # As the composition root does in every process: the kinds of these settings' plugins.
    kinds = load_kinds(settings)
    return SluiceEnv(
        settings=settings,
        env=env,
        celery=create_celery_app(settings, kinds),
        store=open_store(settings),
        tmp=tmp,
    )


@pytest.fixture
def sluice_env(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[SluiceEnv]:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    env = make_env(tmp_path, redis_server.url)
    yield env
    for worker in env.workers:
        worker.stop()
    env.store.close()
