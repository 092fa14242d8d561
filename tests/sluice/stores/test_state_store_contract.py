"""The contract every producer state store keeps: versioned documents by (namespace, key),
written unconditionally, insert-if-absent or compare-and-set."""

from __future__ import annotations

import threading

import pytest

from producers.state_store import StateRecord, StateStore
from sluice.stores.cas import ConcurrentUpdate
from tests.sluice.stores.conftest import Backend


def test_a_put_reads_back_and_each_put_bumps_the_version(state: StateStore) -> None:
    assert state.get("ns", "k") is None
    first = state.put("ns", "k", {"uid": 1})
    second = state.put("ns", "k", {"uid": 2})
    assert (first.version, second.version) == (1, 2)
    assert state.get("ns", "k") == StateRecord("k", 2, {"uid": 2})
    assert state.get("other", "k") is None


def test_insert_writes_only_an_absent_key(state: StateStore) -> None:
    assert state.insert("ns", "k", {"n": 1})
    assert not state.insert("ns", "k", {"n": 2})
    assert state.get("ns", "k") == StateRecord("k", 1, {"n": 1})


def test_replace_needs_the_stored_version(state: StateStore) -> None:
    state.insert("ns", "k", {"n": 1})
    assert not state.replace("ns", "k", {"n": 9}, expected_version=7)
    assert state.replace("ns", "k", {"n": 2}, expected_version=1)
    assert state.get("ns", "k") == StateRecord("k", 2, {"n": 2})


def test_delete_removes_once(state: StateStore) -> None:
    state.put("ns", "k", {})
    assert state.delete("ns", "k")
    assert not state.delete("ns", "k")
    assert state.get("ns", "k") is None


def test_list_gives_a_namespace_most_recently_updated_first(
    state: StateStore, backend: Backend
) -> None:
    for key in ("a", "b", "c"):
        state.put("ns", key, {"key": key})
    state.put("ns", "a", {"key": "a", "again": True})
    state.put("elsewhere", "z", {})
    listed = [record.key for record in state.list("ns")]
    assert sorted(listed) == ["a", "b", "c"]
    assert len(state.list("ns", limit=1)) == 1
    if backend.name != "mongodb":  # BSON dates keep milliseconds: quick writes can tie
        assert listed == ["a", "c", "b"]


def test_update_inserts_then_changes_compare_and_set(state: StateStore) -> None:
    created = state.update("ns", "k", lambda record: {"n": 1} if record is None else None)
    bumped = state.update("ns", "k", lambda record: {"n": record.doc["n"] + 1} if record else None)
    left = state.update("ns", "k", lambda record: None)
    assert created == StateRecord("k", 1, {"n": 1})
    assert bumped == StateRecord("k", 2, {"n": 2})
    assert left == bumped == state.get("ns", "k")


def test_racing_updates_lose_no_increment(state: StateStore) -> None:
    state.put("ns", "counter", {"n": 0})

    def bump() -> None:
        for _ in range(10):
            state.update("ns", "counter", lambda record: {"n": record.doc["n"] + 1}
                         if record else None, attempts=500)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    record = state.get("ns", "counter")
    assert record is not None and record.doc == {"n": 40}


def test_an_update_that_keeps_losing_raises_the_callers_conflict(state: StateStore) -> None:
    class Busy(ConcurrentUpdate):
        pass

    state.put("ns", "k", {"n": 0})

    def meddle(record: StateRecord | None) -> dict[str, int]:
        state.put("ns", "k", {"n": -1})  # another writer, every time
        return {"n": 1}

    with pytest.raises(Busy):
        state.update("ns", "k", meddle, conflict=Busy, attempts=3)
