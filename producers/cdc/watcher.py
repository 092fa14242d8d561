"""Watching the warehouse collections with PyMongo's async change streams.

One task per collection, following the position kept by :mod:`producers.cdc.position`:

- **a token**: the stream resumes with ``start_after`` (which, unlike ``resume_after``,
  also resumes past an ``invalidate``). While the collection is quiet the stream's
  post-batch token still advances; it is saved every :data:`IDLE_SAVE_SECONDS`, so a restart
  after a quiet spell does not find its token aged out of the oplog.
- **no position** (a first start, or after ``sluice cdc reset``) or **the history lost**
  (error 286, the oplog no longer holds the token): the collection is scanned in ``_id``
  order and every document queued for embedding, then the stream follows from the
  operation time read *before* the scan, so no change made meanwhile is missed. The scan
  records how far it got after each batch; a scan cut short (a failover, a crash, a
  stop) continues where it was, and the old token is dropped only when it is done.

Faults of the server (a failover's ``AutoReconnect``, a lost cursor, a timeout) pause and
retry from the saved position; other errors end the watcher, and a restart resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog
from bson import Timestamp
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from producers.cdc.consumer import ChangeConsumer
from producers.cdc.events import Action
from producers.cdc.position import Position
from sluice.stores.mongo_client import client_options, without_read_preference

log = structlog.get_logger(__name__)

HISTORY_LOST = 286
NAMESPACE_NOT_FOUND = 26
# Server faults that a retry from the saved position gets past (PyMongo raises them as
# OperationFailure): CursorNotFound, the interrupted and not-primary family.
TRANSIENT_CODES = frozenset({43, 11600, 11602, 189, 91, 10107, 13435, 13436, 262, 50})
MAX_AWAIT_MS = 1000
RETRY_SECONDS = 2.0
IDLE_SAVE_SECONDS = 5.0
SCAN_BATCH = 500


class CollectionWatcher:
    """Follows one collection; ``collection`` is a PyMongo ``AsyncCollection``."""

    def __init__(
        self, collection: Any, consumer: ChangeConsumer, *,
        retry_seconds: float = RETRY_SECONDS, idle_save_seconds: float = IDLE_SAVE_SECONDS,
        scan_batch: int = SCAN_BATCH,
    ) -> None:
        self._collection = collection
        self._database = collection.database
        self.name: str = collection.name
        self._consumer = consumer
        self._retry_seconds = retry_seconds
        self._idle_save_seconds = idle_save_seconds
        self._scan_batch = scan_batch
        self._history_lost = False
        self.handled = 0

    async def operation_time(self) -> Timestamp:
        reply = await self._database.command("ping")
        stamp = reply.get("operationTime")
        if not isinstance(stamp, Timestamp):
            raise RuntimeError("no operationTime: MongoDB change streams need a replica set")
        return stamp

    async def enable_pre_images(self) -> None:
        """Deletes carry only the id; the pre-image gives the delete job source and doc_id.
        Needs MongoDB 6.0 and the collMod privilege; without it deletes name the id only.
        A collection that does not exist yet is created with pre-images on."""
        try:
            existing = await self._database.list_collection_names(filter={"name": self.name})
            if self.name in existing:
                await self._database.command(
                    "collMod", self.name, changeStreamPreAndPostImages={"enabled": True})
            else:
                await self._database.create_collection(
                    self.name, changeStreamPreAndPostImages={"enabled": True})
        except PyMongoError as exc:
            log.warning("could not enable change stream pre-images; deletes will name the "
                        "document id only", collection=self.name, error=str(exc))
            return
        log.info("change stream pre-images enabled", collection=self.name)

    async def run(self, stop: asyncio.Event) -> None:
        await self.enable_pre_images()
        while not stop.is_set():
            try:
                await self._step(stop)
            except OperationFailure as exc:
                if exc.code == HISTORY_LOST:
                    log.warning("resume position too old for the oplog; scanning",
                                collection=self.name)
                    self._history_lost = True
                    continue
                if exc.code not in TRANSIENT_CODES:
                    raise
                await self._pause(stop, exc)
            except PyMongoError as exc:  # a failover, a lost connection, a timeout
                await self._pause(stop, exc)

    async def _pause(self, stop: asyncio.Event, exc: Exception) -> None:
        log.warning("change stream failed; resuming from the saved position",
                    collection=self.name, error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self._retry_seconds)

    async def _step(self, stop: asyncio.Event) -> None:
        tokens = self._consumer.tokens
        position = await asyncio.to_thread(tokens.position, self.name)
        if position.first_start or (self._history_lost and position.scan is None):
            since = await self.operation_time()
            position = await asyncio.to_thread(tokens.begin_scan, self.name, since)
        self._history_lost = False
        if position.scan is not None:
            scanned = await self._scan(position, stop)
            if scanned is None:
                return  # stopped; the scan's progress is saved
            position = scanned
        await self._follow(stop, position)

    async def _scan(self, position: Position, stop: asyncio.Event) -> Position | None:
        """Queue every document after the scan's ``after``, in batches, recording progress."""
        tokens = self._consumer.tokens
        assert position.scan is not None
        scan = position.scan
        queued = 0
        while not stop.is_set():
            after = position.scan.after if position.scan else None
            found = self._collection.find(
                {} if after is None else {"_id": {"$gt": after}},
                {"source": 1, "doc_id": 1, "content_hash": 1},
            ).sort("_id", 1).limit(self._scan_batch)
            batch = [document async for document in found]
            for document in batch:
                queued += await asyncio.to_thread(
                    self._consumer.backfill_one, self.name, document, scan.marker)
            if len(batch) < self._scan_batch:
                until = await self.operation_time()
                log.warning("collection scanned; following from the scan's start",
                            collection=self.name, queued=queued, resume_from=scan.marker)
                return await asyncio.to_thread(tokens.finish_scan, self.name, scan, until)
            position = await asyncio.to_thread(
                tokens.scanned_to, self.name, position, batch[-1]["_id"])
        return None

    async def _follow(self, stop: asyncio.Event, position: Position) -> None:
        options: dict[str, Any] = {"full_document": "updateLookup",
                                   "full_document_before_change": "whenAvailable",
                                   "max_await_time_ms": MAX_AWAIT_MS}
        if position.token is not None:
            options["start_after"] = position.token
        elif position.start_at is not None:
            options["start_at_operation_time"] = position.start_at
        window = position.window
        saved_token = position.token
        saved_at = time.monotonic()
        async with await self._collection.watch(**options) as stream:
            while not stop.is_set() and stream.alive:
                event = await stream.try_next()
                if event is None:
                    token = stream.resume_token
                    quiet_for = time.monotonic() - saved_at
                    if token and token != saved_token and quiet_for >= self._idle_save_seconds:
                        await asyncio.to_thread(
                            self._consumer.tokens.save, self.name, dict(token), None, window)
                        saved_token, saved_at = token, time.monotonic()
                    continue
                if window is not None and not window.covers(event):
                    window = None  # past the scan: no event can repeat it now
                planned = await asyncio.to_thread(
                    self._consumer.handle, self.name, event, window)
                saved_token, saved_at = planned.token, time.monotonic()
                self.handled += 1
                if planned.action is Action.INVALIDATE:
                    return  # reopen with start_after the invalidate token


async def watch(
    url: str, database: str, collections: list[str], consumer: ChangeConsumer,
    stop: asyncio.Event,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        without_read_preference(url), **client_options())
    try:
        watchers = [CollectionWatcher(client[database][name], consumer)
                    for name in collections]
        await asyncio.gather(*(watcher.run(stop) for watcher in watchers))
    finally:
        await client.close()


__all__ = ["CollectionWatcher", "watch"]
