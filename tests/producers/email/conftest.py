from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import open_documents
from producers.email.mailboxes import EmailProducer
from producers.state_store import open_state_store
from tests.conftest import SluiceEnv, make_env

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"
PLUGINS = "tests.support.kernel_tasks,tests.producers.email.kinds"


@pytest.fixture
def producer_env(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[SluiceEnv]:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS)
    yield env
    env.store.close()


@pytest.fixture
def email_producer(producer_env: SluiceEnv) -> Iterator[EmailProducer]:
    settings = producer_env.settings
    producer = EmailProducer(
        settings=settings, store=producer_env.store, celery=producer_env.celery,
        documents=open_documents(settings), state=open_state_store(settings),
    )
    yield producer
    producer.documents.close()
    producer.state.close()


@pytest.fixture
def dovecot() -> Iterator[object]:
    from tests.producers.email.dovecot import DOVECOT, start_dovecot

    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd): "
                    "the IMAP tests need a real IMAP server on loopback")
    # Not under pytest's tmp dir: pytest keeps that 0700 (and other pytest sessions reset
    # it), while Dovecot's unprivileged auth and login processes must traverse the path.
    root = Path(tempfile.mkdtemp(prefix="sluice-dovecot-"))
    root.chmod(0o711)
    server = start_dovecot(root / "server")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
