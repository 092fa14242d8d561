"""What the MongoDB stores decide without a server: the filters, indexes, client options,
compare-and-set outcome and BSON refusals they build with the real PyMongo and ``bson``.

The stores' behaviour against a server is the contract suites' MongoDB side, which runs
when ``SLUICE_MONGODB_URL`` names a replica set (none can run here).
"""

from __future__ import annotations

from typing import Any

import bson
import pytest
from pymongo import MongoClient, ReadPreference
from pymongo.results import UpdateResult

from libs.documents.mongo import MongoDocumentStore, mongo_document_indexes
from producers.state_store import MongoStateStore
from sluice.errors import UnstorableValue
from sluice.stores.base import JobQuery
from sluice.stores.bson_limits import MAX_DOCUMENT_BYTES, refusals_as_unstorable, unstorable_reason
from sluice.stores.mongo import (
    MongoJobStore,
    job_filter,
    job_update,
    mongo_job_indexes,
    write_won,
)
from sluice.stores.mongo_client import (
    OPERATION_TIMEOUT_MS,
    SERVER_SELECTION_TIMEOUT_MS,
    client_options,
    ensure_indexes,
    shared_client,
    without_read_preference,
)

# Nothing listens here; PyMongo connects lazily, so building clients needs no server.
URL = ("mongodb://127.0.0.1:9,127.0.0.1:10/?replicaSet=rs0&readPreference=secondary"
       "&serverSelectionTimeoutMS=5000&w=1")


def test_a_path_filtered_twice_is_anded_as_sqlite_does() -> None:
    query = JobQuery(kind="extract", fields=(("input.schema", "a"), ("input.schema", "b"),
                                             ("kind", "embed")))
    assert job_filter(query) == {"$and": [{"kind": "extract", "input.schema": "a"},
                                          {"input.schema": "b"}, {"kind": "embed"}]}
    assert job_filter(JobQuery(fields=(("input.batch_run", "r1"),))) == {
        "input.batch_run": "r1"}


def test_compare_and_set_wins_on_a_match_even_when_nothing_changed() -> None:
    unchanged = UpdateResult({"n": 1, "nModified": 0, "ok": 1.0}, acknowledged=True)
    lost = UpdateResult({"n": 0, "nModified": 0, "ok": 1.0}, acknowledged=True)
    assert write_won(unchanged) and not write_won(lost)


def _keys(model: Any) -> list[str]:
    return list(model.document["key"])


def test_every_listing_index_ends_with_the_id_tie_breaker() -> None:
    indexes = mongo_job_indexes()
    for model in indexes:
        keys = _keys(model)
        if "created_at" in keys:
            assert keys[-2:] == ["created_at", "_id"], keys
    idempotency = next(m.document for m in indexes if _keys(m) == ["idempotency_key"])
    assert idempotency["unique"] and idempotency["sparse"]


def test_batch_progress_crawls_and_sweeps_have_indexes() -> None:
    leading = {_keys(model)[0] for model in mongo_job_indexes()}
    assert {"input.batch_run", "input.crawl_id", "updated_at"} <= leading
    batch = next(m.document for m in mongo_job_indexes() if _keys(m)[0] == "input.batch_run")
    assert batch["partialFilterExpression"] == {"input.batch_run": {"$exists": True}}
    assert [_keys(m) for m in mongo_document_indexes()] == [["source", "doc_id"],
                                                            ["source", "_id"]]


def test_the_client_reads_from_the_primary_and_outlasts_an_election_whatever_the_url() -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(URL, **client_options(), connect=False)
    try:
        assert client.read_preference == ReadPreference.PRIMARY
        assert client.options.server_selection_timeout == SERVER_SELECTION_TIMEOUT_MS / 1000
        assert client.options.timeout == OPERATION_TIMEOUT_MS / 1000
        assert client.write_concern.document == {"w": "majority"}
        assert client.options.retry_writes and client.options.retry_reads
    finally:
        client.close()
    # An election takes ~10-12 s with MongoDB's defaults.
    assert SERVER_SELECTION_TIMEOUT_MS >= 15_000


@pytest.mark.parametrize("options", [
    "readPreference=secondary&maxStalenessSeconds=120",
    "readPreference=nearest&readPreferenceTags=dc:ny&readPreferenceTags=",
])
def test_read_preference_options_in_the_url_give_way_to_the_primary(options: str) -> None:
    url = f"mongodb://user:p%40ss@127.0.0.1:9,127.0.0.1:10/sluice?replicaSet=rs0&{options}"
    cleaned = without_read_preference(url)
    assert cleaned == "mongodb://user:p%40ss@127.0.0.1:9,127.0.0.1:10/sluice?replicaSet=rs0"
    client: MongoClient[dict[str, Any]] = MongoClient(cleaned, **client_options(),
                                                      connect=False)
    assert client.read_preference == ReadPreference.PRIMARY
    client.close()


def test_one_client_per_process_shared_by_every_store_and_no_index_build_on_open() -> None:
    # Opening stores does not reach for the server (nothing listens at URL).
    jobs = MongoJobStore(URL, "sluice_rules")
    documents = MongoDocumentStore(URL, "sluice_rules")
    state = MongoStateStore(URL, "sluice_rules")
    client = shared_client(URL)
    assert jobs._clients.get() is client
    assert documents._clients.get() is client and state._clients.get() is client
    assert jobs._clients.collection("sluice_rules", "jobs").read_preference == (
        ReadPreference.PRIMARY)
    jobs.close()
    documents.close()
    assert shared_client(URL) is client  # a store's close leaves the process's client


class CountingCollection:
    """Only what :func:`ensure_indexes` touches: its names and ``create_indexes``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.database = type("Database", (), {"name": "sluice_rules"})()
        self.created = 0

    def create_indexes(self, models: list[Any]) -> list[str]:
        self.created += 1
        return []


def test_indexes_are_created_once_per_process() -> None:
    collection = CountingCollection("once")
    for _ in range(3):
        ensure_indexes(collection, URL, mongo_job_indexes())  # type: ignore[arg-type]
    assert collection.created == 1


def test_bson_refusals_name_the_value_and_the_limit() -> None:
    with pytest.raises(OverflowError):
        bson.encode({"n": 2**64})  # what MongoDB's driver does with it
    why = unstorable_reason({"result": {"counts": [1, 2**64]}}, "job j1")
    assert why == "job j1: the integer at result.counts.1 does not fit MongoDB's 64-bit integers"
    big = {"content": "x" * MAX_DOCUMENT_BYTES}
    assert "above MongoDB's limit" in (unstorable_reason(big, "document d1") or "")
    assert unstorable_reason({"n": 2**63 - 1, "m": -(2**63)}, "job j2") is None
    with (pytest.raises(UnstorableValue, match=r"result\.n"),
          refusals_as_unstorable({"result": {"n": 2**70}}, "job j3")):
        bson.encode({"result": {"n": 2**70}})


def test_a_mutate_writes_only_the_fields_that_changed() -> None:
    stored = {"_id": "j1", "version": 3, "status": "running", "input": {"text": "x" * 1000},
              "error": "boom", "attempts": [{"n": 1}]}
    new = {"_id": "j1", "version": 4, "status": "succeeded", "input": {"text": "x" * 1000},
           "attempts": [{"n": 1}, {"n": 2}], "result": {"ok": True}}
    assert job_update(stored, new) == {
        "$set": {"version": 4, "status": "succeeded", "attempts": [{"n": 1}, {"n": 2}],
                 "result": {"ok": True}},
        "$unset": {"error": ""},
    }


def test_a_failover_is_unavailability_not_a_verdict_on_the_job(tmp_path: Any) -> None:
    from pymongo.errors import (
        AutoReconnect,
        DuplicateKeyError,
        NetworkTimeout,
        OperationFailure,
        ServerSelectionTimeoutError,
    )

    from sluice.stores.sqlite import SQLiteJobStore

    store = MongoJobStore(URL, "sluice_rules")
    for error in (AutoReconnect("primary stepped down"), NetworkTimeout("timed out"),
                  ServerSelectionTimeoutError("no primary")):
        assert store.is_unavailable(error), error
    for error in (OperationFailure("bad", code=2), DuplicateKeyError("dup"),
                  ValueError("a bug")):
        assert not store.is_unavailable(error), error
    sqlite = SQLiteJobStore(tmp_path / "jobs.db")
    assert not sqlite.is_unavailable(AutoReconnect("x"))
    sqlite.close()
