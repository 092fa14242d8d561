"""The CDC watcher's recovery paths, driven through the real watcher and consumer over a
scripted change stream (tests/support/fake_change_stream.py): no MongoDB server runs here.

The jobs land in the real SQLite store and Celery on the test Redis. Each scenario ends by
counting the embed jobs per (document, content): every document exactly once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from pymongo.errors import AutoReconnect, OperationFailure

from cli.embedded_redis import EmbeddedRedis
from producers.cdc.consumer import ChangeConsumer, ResumeTokens
from producers.cdc.watcher import CollectionWatcher
from producers.state_store import SQLiteStateStore, StateRecord
from schemas.job import Job
from sluice.stores import JobQuery, JobStore
from sluice.stores.sqlite import SQLiteJobStore
from tests.conftest import SluiceEnv, make_env
from tests.support.fake_change_stream import FakeCollection, token_at

PLUGINS = "tests.support.kernel_tasks,tests.producers.email.kinds"


def document(key: str, content_hash: str = "1") -> dict[str, Any]:
    return {"_id": key, "source": "web", "doc_id": f"https://x.example/{key}",
            "content": f"text of {key}", "content_hash": content_hash}


class FlakyJobStore(SQLiteJobStore):
    """The real SQLite store; ``fail_inserts`` maps the n-th insert (1-based) to an error."""

    def __init__(self, path: Path, fail_inserts: dict[int, BaseException]) -> None:
        super().__init__(path)
        self._fail_inserts = fail_inserts
        self.inserts = 0

    def _insert(self, job: Job) -> bool:
        self.inserts += 1
        error = self._fail_inserts.pop(self.inserts, None)
        if error is not None:
            raise error
        return super()._insert(job)


class FlakyStateStore(SQLiteStateStore):
    """The real SQLite state store; the first ``get`` and the first ``put`` after
    ``arm()`` raise a failover's AutoReconnect, as MongoDB's would during an election."""

    armed_get = False
    armed_put = False

    def get(self, namespace: str, key: str) -> StateRecord | None:
        if self.armed_get:
            self.armed_get = False
            raise AutoReconnect("primary stepped down")
        return super().get(namespace, key)

    def put(self, namespace: str, key: str, doc: dict[str, Any]) -> StateRecord:
        if self.armed_put:
            self.armed_put = False
            raise AutoReconnect("primary stepped down")
        return super().put(namespace, key, doc)


@pytest.fixture
def cdc_env(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[SluiceEnv]:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS)
    yield env
    env.store.close()


def consumer_for(env: SluiceEnv, store: JobStore | None = None,
                 state: SQLiteStateStore | None = None) -> ChangeConsumer:
    return ChangeConsumer(store=store or env.store, celery=env.celery, settings=env.settings,
                          tokens=ResumeTokens(state or SQLiteStateStore(env.settings.sqlite_path)))


def run_watcher(collection: FakeCollection, consumer: ChangeConsumer,
                until: Callable[[], bool], *, idle_rounds: int = 20) -> None:
    """Run the real watcher until ``until()`` holds, then ``idle_rounds`` more empty
    batches (so a duplicate would have time to appear), then stop it as Ctrl-C does.
    An error that ends the watcher is raised here."""

    async def main() -> None:
        stop = asyncio.Event()
        watcher = CollectionWatcher(collection, consumer, retry_seconds=0.01,
                                    idle_save_seconds=0, scan_batch=2)
        task = asyncio.create_task(watcher.run(stop))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not until() and not task.done():
            assert loop.time() < deadline, "the watcher did not get there in 30 s"
            await asyncio.sleep(0.01)
        for _ in range(idle_rounds):  # a window for a duplicate to show, not a wait
            if task.done():
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(main())


def embeds(store: JobStore) -> Counter[tuple[str, str]]:
    return Counter((job.input["document_id"], job.input["content_hash"])
                   for job in store.iter_jobs(JobQuery(kind="embed")))


def each_once(*pairs: tuple[str, str]) -> Counter[tuple[str, str]]:
    return Counter(dict.fromkeys(pairs, 1))


def test_history_lost_mid_backfill_then_a_restart_embeds_every_document_once(
    cdc_env: SluiceEnv,
) -> None:
    collection = FakeCollection()
    for key in ("d1", "d2", "d3", "d4", "d5", "d6"):
        collection.insert(document(key))
    # An earlier run saved the token of the first insert; the oplog has rolled over since.
    state = SQLiteStateStore(cdc_env.settings.sqlite_path)
    ResumeTokens(state).save("documents", token_at(1))
    collection.forget_history()
    # The scan runs in batches of two; the job store fails for good on the 4th document.
    store = FlakyJobStore(cdc_env.settings.sqlite_path,
                          {4: ConnectionError("job store unreachable")})
    consumer = consumer_for(cdc_env, store, state)
    with pytest.raises(ConnectionError):
        run_watcher(collection, consumer, until=lambda: False)
    # Where the scan got to is recorded, and the old token is kept until it is done.
    position = consumer.tokens.position("documents")
    assert position.scan is not None and position.scan.after == "d2"
    assert position.token == token_at(1)
    # While `sluice cdc` is down: a new document and a content change.
    collection.insert(document("d7"))
    collection.update("d1", {"content_hash": "2", "content": "new text"})

    restarted = consumer_for(cdc_env, store, state)
    expected = each_once(*((key, "1") for key in ("d1", "d2", "d3", "d4", "d5", "d6", "d7")),
                         ("d1", "2"))
    run_watcher(collection, restarted, until=lambda: set(embeds(store)) >= set(expected))
    assert embeds(store) == expected
    after = restarted.tokens.position("documents")
    assert after.scan is None and after.token is not None  # following the stream again
    store.close()


def test_a_quiet_collections_token_advances_and_survives_the_oplog_rolling_over(
    cdc_env: SluiceEnv,
) -> None:
    collection = FakeCollection()
    consumer = consumer_for(cdc_env)
    consumer.tokens.save("documents", token_at(0))  # following from the start
    collection.insert(document("d1"))
    collection.tick(5)  # other collections' writes: this one is quiet
    run_watcher(collection, consumer,
                until=lambda: consumer.tokens.load("documents") == token_at(6))
    collection.forget_history()  # the event's own token (1) is no longer in the oplog
    collection.insert(document("d2"))
    run_watcher(collection, consumer, until=lambda: ("d2", "1") in embeds(cdc_env.store))
    assert embeds(cdc_env.store) == each_once(("d1", "1"), ("d2", "1"))
    assert not any("start_at_operation_time" in options for options in collection.opened)


def test_the_first_start_scans_existing_documents_then_follows_from_the_scans_start(
    cdc_env: SluiceEnv,
) -> None:
    collection = FakeCollection()
    for key in ("d1", "d2", "d3", "d4", "d5"):
        collection.insert(document(key))
    # A document the API takes while `sluice cdc` is starting: after the scan's start time,
    # before the scan reads: both the scan and the stream see it.
    collection.at("find", lambda: collection.insert(document("d6")))
    consumer = consumer_for(cdc_env)
    expected = each_once(*((key, "1") for key in ("d1", "d2", "d3", "d4", "d5", "d6")))
    run_watcher(collection, consumer, until=lambda: set(embeds(cdc_env.store)) >= set(expected))
    assert embeds(cdc_env.store) == expected
    assert "start_at_operation_time" in collection.opened[0]
    # After the scan the stream follows: a later change is embedded once more.
    collection.update("d2", {"content_hash": "2"})
    run_watcher(collection, consumer, until=lambda: ("d2", "2") in embeds(cdc_env.store))
    assert embeds(cdc_env.store) == expected + each_once(("d2", "2"))


def test_an_election_during_writes_loses_nothing_and_doubles_nothing(
    cdc_env: SluiceEnv,
) -> None:
    collection = FakeCollection()
    state = FlakyStateStore(cdc_env.settings.sqlite_path)
    ResumeTokens(state).save("documents", token_at(0))
    for key in ("d1", "d2", "d3"):
        collection.insert(document(key))
    # The job store's write of d2's job and the stream itself fail once each, as a
    # failover's AutoReconnect; the state store fails on the first position load and on
    # the token save after d1's job was stored.
    store = FlakyJobStore(cdc_env.settings.sqlite_path,
                          {2: AutoReconnect("not primary")})
    collection.fail("try_next", AutoReconnect("connection reset"))
    state.armed_get = True
    state.armed_put = True
    consumer = consumer_for(cdc_env, store, state)
    expected = each_once(("d1", "1"), ("d2", "1"), ("d3", "1"))
    run_watcher(collection, consumer, until=lambda: set(embeds(store)) >= set(expected))
    assert embeds(store) == expected
    assert consumer.tokens.load("documents") == token_at(3)
    store.close()


def test_pre_images_are_enabled_by_creating_a_missing_collection(cdc_env: SluiceEnv) -> None:
    collection = FakeCollection()  # does not exist yet
    consumer = consumer_for(cdc_env)
    consumer.tokens.save("documents", token_at(0))
    run_watcher(collection, consumer, until=lambda: collection.exists)
    assert collection.pre_images
    collection.insert(document("d1"))
    collection.delete("d1")
    run_watcher(collection, consumer,
                until=lambda: cdc_env.store.count(JobQuery(kind="delete")) == 1)
    (job,) = cdc_env.store.iter_jobs(JobQuery(kind="delete"))
    assert job.input == {"document_id": "d1", "source": "web",
                         "doc_id": "https://x.example/d1"}


def test_an_unexpected_server_error_ends_the_watcher(cdc_env: SluiceEnv) -> None:
    collection = FakeCollection()
    consumer = consumer_for(cdc_env)
    consumer.tokens.save("documents", token_at(0))
    collection.fail("watch", OperationFailure("not authorized", code=13))
    with pytest.raises(OperationFailure):
        run_watcher(collection, consumer, until=lambda: False)
