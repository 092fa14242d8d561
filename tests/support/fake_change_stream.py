"""A scripted stand-in for one MongoDB replica-set collection and its change stream.

No MongoDB server can run here (and mongomock has no ``watch``), so the CDC watcher's
recovery paths are driven through this: the part of PyMongo's async API the watcher calls
(``watch`` -> a stream with ``try_next``/``resume_token``/``alive``, ``find().sort().limit()``,
``database.command("ping"|"collMod")``, ``list_collection_names``, ``create_collection``),
over an oplog that the test writes to, ages out, and injects errors into.

The semantics follow MongoDB's documentation, as far as the watcher relies on them:

- every write is one oplog entry with a rising cluster time; a resume token names an entry;
- ``try_next`` returns the next matching event, or None for an empty batch, after which
  ``resume_token`` is the post-batch token: the newest entry, even one of another
  collection (:meth:`FakeCollection.tick`), so a quiet stream's token still advances;
- ``start_after`` a token, or ``start_at_operation_time``, older than the retained oplog
  raises ``OperationFailure`` code 286 (ChangeStreamHistoryLost);
- ``full_document="updateLookup"`` reads the document as it is when the event is read;
  a delete carries ``fullDocumentBeforeChange`` when pre-images are on.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bson import Timestamp
from pymongo.errors import OperationFailure

EPOCH = 1_800_000_000


@dataclass
class Entry:
    position: int
    stamp: Timestamp
    operation: str  # insert, update, delete, noop (another collection)
    key: Any = None
    document: dict[str, Any] | None = None  # insert: the document; delete: the pre-image
    fields: dict[str, Any] = field(default_factory=dict)


def token_at(position: int) -> dict[str, str]:
    return {"_data": f"{position:020d}"}


def position_of(token: dict[str, str]) -> int:
    return int(token["_data"])


class FakeCollection:
    """One collection with its oplog. Tests write through it; the watcher reads it."""

    def __init__(self, name: str = "documents", database: str = "sluice") -> None:
        self.name = name
        self.database = FakeDatabase(database, self)
        self.documents: dict[Any, dict[str, Any]] = {}
        self.exists = False
        self.pre_images = False
        self.oplog: list[Entry] = []
        self.retained_from = 0  # the oldest position a stream can resume after
        self.failures: dict[str, list[BaseException | Callable[[], None]]] = {}
        self.opened: list[dict[str, Any]] = []  # the options of every watch() call

    # ---- what a test does -------------------------------------------------------------

    def _log(self, operation: str, **details: Any) -> Entry:
        position = len(self.oplog) + 1
        entry = Entry(position, Timestamp(EPOCH + position, 1), operation, **details)
        self.oplog.append(entry)
        return entry

    def insert(self, document: dict[str, Any]) -> None:
        self.exists = True
        self.documents[document["_id"]] = copy.deepcopy(document)
        self._log("insert", key=document["_id"], document=copy.deepcopy(document))

    def update(self, key: Any, fields: dict[str, Any]) -> None:
        self.documents[key].update(fields)
        self._log("update", key=key, fields=dict(fields))

    def delete(self, key: Any) -> None:
        before = self.documents.pop(key)
        self._log("delete", key=key, document=before if self.pre_images else None)

    def tick(self, count: int = 1) -> None:
        """Writes to other collections: the oplog (and the post-batch token) moves on."""
        for _ in range(count):
            self._log("noop")

    def forget_history(self) -> None:
        """The oplog rolls over: only resuming from the newest entry is possible."""
        self.retained_from = len(self.oplog)

    def fail(self, point: str, error: BaseException, times: int = 1) -> None:
        """Raise ``error`` at the next ``times`` calls of ``point``: "watch", "try_next",
        "find" or "ping"."""
        self.failures.setdefault(point, []).extend([error] * times)

    def at(self, point: str, action: Callable[[], None]) -> None:
        """Run ``action`` (a write by someone else) at the next call of ``point``."""
        self.failures.setdefault(point, []).append(action)

    def _maybe_fail(self, point: str) -> None:
        pending = self.failures.get(point)
        if pending:
            planned = pending.pop(0)
            if isinstance(planned, BaseException):
                raise planned
            planned()

    @property
    def now(self) -> Timestamp:
        return Timestamp(EPOCH + len(self.oplog), 2)

    # ---- what the watcher calls ---------------------------------------------------------

    async def watch(self, **options: Any) -> FakeStream:
        self._maybe_fail("watch")
        self.opened.append(dict(options))
        if "start_after" in options:
            position = position_of(options["start_after"])
        elif "start_at_operation_time" in options:
            since: Timestamp = options["start_at_operation_time"]
            position = sum(1 for entry in self.oplog if entry.stamp < since)
        else:
            position = len(self.oplog)
        if position < self.retained_from:
            raise OperationFailure(
                "Resume of change stream was not possible, as the resume point may no "
                "longer be in the oplog.", code=286)
        return FakeStream(self, position, options)

    def find(self, query: dict[str, Any], projection: dict[str, Any]) -> FakeCursor:
        self._maybe_fail("find")
        after = (query.get("_id") or {}).get("$gt")
        assert set(query) <= {"_id"}, f"unexpected scan filter {query}"
        chosen = sorted(key for key in self.documents if after is None or key > after)
        rows = [{"_id": key, **{name: self.documents[key].get(name) for name in projection
                                if name in self.documents[key]}} for key in chosen]
        return FakeCursor(rows)


class FakeDatabase:
    def __init__(self, name: str, collection: FakeCollection) -> None:
        self.name = name
        self._collection = collection

    async def command(self, name: str, *args: Any, **options: Any) -> dict[str, Any]:
        collection = self._collection
        if name == "ping":
            collection._maybe_fail("ping")
            return {"ok": 1.0, "operationTime": collection.now}
        if name == "collMod":
            if not collection.exists:
                raise OperationFailure("ns does not exist", code=26)
            collection.pre_images = options["changeStreamPreAndPostImages"]["enabled"]
            return {"ok": 1.0}
        raise AssertionError(f"unexpected command {name}")

    async def list_collection_names(self, filter: dict[str, Any]) -> list[str]:
        return [self._collection.name] if self._collection.exists else []

    async def create_collection(self, name: str, **options: Any) -> None:
        collection = self._collection
        collection.exists = True
        collection.pre_images = options["changeStreamPreAndPostImages"]["enabled"]


class FakeCursor:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows

    def sort(self, key: str, direction: int) -> FakeCursor:
        assert (key, direction) == ("_id", 1)
        return self

    def limit(self, count: int) -> FakeCursor:
        self._rows = self._rows[:count]
        return self

    def __aiter__(self) -> FakeCursor:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if not self._rows:
            raise StopAsyncIteration
        return self._rows.pop(0)


class FakeStream:
    def __init__(self, collection: FakeCollection, position: int, options: dict[str, Any]):
        self._collection = collection
        self._position = position
        self._options = options
        self.alive = True
        self.resume_token: dict[str, str] | None = options.get("start_after")

    async def __aenter__(self) -> FakeStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.alive = False

    async def try_next(self) -> dict[str, Any] | None:
        collection = self._collection
        collection._maybe_fail("try_next")
        while self._position < len(collection.oplog):
            entry = collection.oplog[self._position]
            self._position += 1
            if entry.operation == "noop":
                continue
            event = self._event(entry)
            self.resume_token = event["_id"]
            return event
        # An empty batch: the server waits max_await_time_ms, then hands the post-batch token.
        await asyncio.sleep(0.005)
        self.resume_token = token_at(self._position)
        return None

    def _event(self, entry: Entry) -> dict[str, Any]:
        collection = self._collection
        event: dict[str, Any] = {
            "_id": token_at(entry.position), "operationType": entry.operation,
            "clusterTime": entry.stamp, "ns": {"db": collection.database.name,
                                               "coll": collection.name},
            "documentKey": {"_id": entry.key},
        }
        if entry.operation == "insert":
            event["fullDocument"] = copy.deepcopy(entry.document)
        elif entry.operation == "update":
            event["updateDescription"] = {"updatedFields": entry.fields, "removedFields": [],
                                          "truncatedArrays": []}
            if self._options.get("full_document") == "updateLookup":
                current = collection.documents.get(entry.key)
                event["fullDocument"] = copy.deepcopy(current)
        elif entry.operation == "delete" and entry.document is not None and (
                self._options.get("full_document_before_change") in ("whenAvailable",
                                                                     "required")):
            event["fullDocumentBeforeChange"] = copy.deepcopy(entry.document)
        return event


__all__ = ["FakeCollection", "token_at"]
