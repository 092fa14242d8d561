"""Change events in MongoDB's documented format, handled without a server; and the live
change stream against a replica set when SLUICE_MONGODB_URL names one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from bson import Timestamp
from prometheus_client import REGISTRY

from cli.embedded_redis import EmbeddedRedis
from producers.cdc.consumer import ChangeConsumer, ResumeTokens
from producers.cdc.events import Action, plan_event
from producers.state_store import open_state_store
from schemas.job import Job
from sluice.stores import JobQuery
from sluice.stores.sqlite import SQLiteJobStore
from tests.conftest import SluiceEnv, make_env
from tests.support.polling import wait_for

PLUGINS = "tests.support.kernel_tasks,tests.producers.email.kinds"
NOW = Timestamp(int(datetime.now(UTC).timestamp()) - 3, 1)
NS = {"db": "sluice", "coll": "documents"}
DOC = {"_id": "d1", "source": "web", "doc_id": "https://x.example/a", "content": "hello",
       "content_hash": "h1", "metadata": {}}


def token(n: int) -> dict[str, str]:
    return {"_data": f"82{n:062X}"}


def insert(n: int = 1) -> dict[str, Any]:
    return {"_id": token(n), "operationType": "insert", "clusterTime": NOW, "ns": NS,
            "documentKey": {"_id": "d1"}, "fullDocument": DOC}


def update(n: int, fields: dict[str, Any], full: dict[str, Any] | None = DOC) -> dict[str, Any]:
    return {"_id": token(n), "operationType": "update", "clusterTime": NOW, "ns": NS,
            "documentKey": {"_id": "d1"}, "fullDocument": full,
            "updateDescription": {"updatedFields": fields, "removedFields": [],
                                  "truncatedArrays": []}}


def replace(n: int) -> dict[str, Any]:
    return {"_id": token(n), "operationType": "replace", "clusterTime": NOW, "ns": NS,
            "documentKey": {"_id": "d1"}, "fullDocument": {**DOC, "content_hash": "h2"}}


def delete(n: int, before: dict[str, Any] | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"_id": token(n), "operationType": "delete", "clusterTime": NOW,
                             "ns": NS, "documentKey": {"_id": "d1"}}
    if before is not None:
        event["fullDocumentBeforeChange"] = before
    return event


def invalidate(n: int) -> dict[str, Any]:
    return {"_id": token(n), "operationType": "invalidate", "clusterTime": NOW}


def test_documented_events_map_to_embed_delete_or_nothing() -> None:
    planned = plan_event(insert())
    assert planned.action is Action.EMBED and planned.kind == "embed"
    assert planned.job_input == {"document_id": "d1", "source": "web",
                                 "doc_id": "https://x.example/a", "content_hash": "h1"}
    assert plan_event(update(2, {"content": "new", "content_hash": "h2"})).action is Action.EMBED
    assert plan_event(replace(3)).job_input["content_hash"] == "h2"  # type: ignore[index]
    # The embed worker's own bookkeeping must not trigger another embed.
    bookkeeping = update(4, {"indexed_hash": "h1", "chunk_count": 3, "embed_job_id": "j"})
    assert plan_event(bookkeeping).action is Action.IGNORE
    assert plan_event(update(5, {"content_hash": "h3"}, full=None)).action is Action.IGNORE
    assert plan_event(delete(6)).job_input == {"document_id": "d1"}
    with_pre_image = plan_event(delete(7, before=DOC))
    assert with_pre_image.kind == "delete"
    assert with_pre_image.job_input == {"document_id": "d1", "source": "web",
                                        "doc_id": "https://x.example/a"}
    assert plan_event(invalidate(8)).action is Action.INVALIDATE
    assert plan_event({"_id": token(9), "operationType": "drop"}).action is Action.IGNORE
    assert plan_event(insert()).idempotency_key == plan_event(insert()).idempotency_key
    assert plan_event(insert(1)).cluster_time is not None


class FlakyStore(SQLiteJobStore):
    """The real SQLite store, with a switch that makes the next insert fail as a lost
    connection would: the enqueue is not acknowledged."""

    fail_next = False

    def _insert(self, job: Job) -> bool:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("store unreachable")
        return super()._insert(job)


@pytest.fixture
def cdc_env(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[SluiceEnv]:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS)
    yield env
    env.store.close()


def consumer_for(env: SluiceEnv, store: Any = None) -> ChangeConsumer:
    return ChangeConsumer(store=store or env.store, celery=env.celery, settings=env.settings,
                          tokens=ResumeTokens(open_state_store(env.settings)))


def test_the_token_is_saved_after_the_enqueue_and_a_replay_makes_no_second_job(
    cdc_env: SluiceEnv,
) -> None:
    consumer = consumer_for(cdc_env)
    consumer.handle("documents", insert(1))
    assert consumer.tokens.load("documents") == token(1)
    consumer.handle("documents", update(2, {"indexed_hash": "h1"}))  # ignored, token moves on
    assert consumer.tokens.load("documents") == token(2)
    consumer.handle("documents", delete(3, before=DOC))
    # A crash before the token was saved replays events: no job is made twice.
    consumer.handle("documents", insert(1))
    consumer.handle("documents", delete(3, before=DOC))
    assert cdc_env.store.count(JobQuery(kind="embed")) == 1
    assert cdc_env.store.count(JobQuery(kind="delete")) == 1
    # The lag metric: the events' cluster time is at least a few seconds old.
    lag = REGISTRY.get_sample_value("sluice_cdc_lag_seconds", {"collection": "documents"})
    assert lag is not None and 2 <= lag < 3600
    handled = REGISTRY.get_sample_value("sluice_cdc_events_total",
                                        {"collection": "documents", "action": "embed"})
    assert handled is not None and handled >= 2


def test_a_failed_enqueue_leaves_the_token_where_it_was(cdc_env: SluiceEnv) -> None:
    store = FlakyStore(cdc_env.settings.sqlite_path)
    consumer = consumer_for(cdc_env, store)
    consumer.handle("documents", insert(1))
    store.fail_next = True
    with pytest.raises(ConnectionError):
        consumer.handle("documents", replace(2))
    assert consumer.tokens.load("documents") == token(1)
    consumer.handle("documents", replace(2))  # the restarted stream reads it again
    assert consumer.tokens.load("documents") == token(2)
    assert store.count(JobQuery(kind="embed")) == 2
    store.close()


def test_cdc_reset_clears_the_saved_token(cdc_env: SluiceEnv) -> None:
    consumer = consumer_for(cdc_env)
    consumer.handle("documents", insert(1))
    done = subprocess.run([sys.executable, "-m", "cli", "cdc", "reset"], env=cdc_env.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "documents: token cleared" in done.stdout
    assert consumer.tokens.load("documents") is None


MONGODB_URL = os.environ.get("SLUICE_MONGODB_URL")


@pytest.mark.mongodb
@pytest.mark.skipif(
    not MONGODB_URL,
    reason="SLUICE_MONGODB_URL is unset: the live change-stream test needs a MongoDB replica "
    "set (none can be installed here); event handling is covered by the tests above",
)
def test_live_change_stream_enqueues_and_resumes_after_restart(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    from pymongo import MongoClient

    from producers.cdc.watcher import watch

    assert MONGODB_URL is not None
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS)
    database = env.settings.mongodb_database  # this test's own (tests/support/mongo.py)
    consumer = consumer_for(env)
    client: MongoClient[dict[str, Any]] = MongoClient(MONGODB_URL)
    collection = client[database]["documents"]
    try:
        collection.insert_one({"_id": "seed", "source": "web", "doc_id": "seed",
                               "content_hash": "0"})
        # A token for "now", as a previous run of `sluice cdc` would have saved it: the seed
        # document is behind it, so no scan runs.
        with collection.watch(max_await_time_ms=100) as stream:
            stream.try_next()
            now_token = stream.resume_token
        assert now_token is not None
        consumer.tokens.save("documents", dict(now_token), plan_event(invalidate(0)))

        def follow_until(count: int) -> None:
            async def main() -> None:
                stop = asyncio.Event()
                task = asyncio.create_task(watch(MONGODB_URL, database, ["documents"],
                                                 consumer, stop))
                await asyncio.to_thread(
                    wait_for, lambda: env.store.count(JobQuery()) >= count, timeout=30,
                    what=f"{count} jobs")
                stop.set()
                await task

            asyncio.run(main())

        for name in ("a", "b"):
            collection.insert_one({"_id": name, "source": "web", "doc_id": name,
                                   "content_hash": "1"})
        follow_until(2)
        # While no watcher runs: a content update of a (still there, so updateLookup finds
        # it) and the delete of b; the restart resumes from the saved token.
        collection.update_one({"_id": "a"}, {"$set": {"content_hash": "2", "content": "x"}})
        collection.delete_one({"_id": "b"})
        follow_until(4)
        assert env.store.count(JobQuery(kind="embed")) == 3
        assert env.store.count(JobQuery(kind="delete")) == 1
    finally:
        client.drop_database(database)
        client.close()
        env.store.close()
