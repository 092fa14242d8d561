"""Watching the warehouse collections with PyMongo's async change streams.

One task per collection. A restart resumes with ``start_after`` from the saved token
(``start_after``, unlike ``resume_after``, also resumes past an ``invalidate``). When the
oplog no longer holds the token (error 286, ChangeStreamHistoryLost) the token is cleared,
the collection is scanned and every document queued for embedding, and the stream starts
again from the operation time read *before* the scan, so a change made during the scan is
seen twice rather than never.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from bson import Timestamp
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from producers.cdc.consumer import ChangeConsumer
from producers.cdc.events import Action

log = structlog.get_logger(__name__)

HISTORY_LOST = 286
MAX_AWAIT_MS = 1000
RETRY_SECONDS = 2.0


class CollectionWatcher:
    def __init__(
        self, client: AsyncMongoClient[dict[str, Any]], database: str, collection: str,
        consumer: ChangeConsumer,
    ) -> None:
        self._collection = client[database][collection]
        self._database = client[database]
        self.name = collection
        self._consumer = consumer
        self.handled = 0

    async def operation_time(self) -> Timestamp:
        reply = await self._database.command("ping")
        stamp = reply.get("operationTime")
        if not isinstance(stamp, Timestamp):
            raise RuntimeError("no operationTime: MongoDB change streams need a replica set")
        return stamp

    async def backfill(self) -> Timestamp:
        """Queue every document; returns the time to resume the stream from."""
        since = await self.operation_time()
        marker = f"{since.time}.{since.inc}"
        queued = 0
        async for document in self._collection.find(
            {}, {"source": 1, "doc_id": 1, "content_hash": 1}
        ):
            queued += await asyncio.to_thread(
                self._consumer.backfill_one, self.name, document, marker)
        log.warning("change stream history lost: backfilled", collection=self.name,
                    queued=queued, resume_from=marker)
        return since

    async def enable_pre_images(self) -> None:
        """Deletes carry only the id; the pre-image gives the delete job source and doc_id.
        Needs MongoDB 6.0 and the collMod privilege; without it deletes name the id only."""
        try:
            await self._database.command(
                "collMod", self.name, changeStreamPreAndPostImages={"enabled": True})
        except PyMongoError as exc:
            log.warning("could not enable change stream pre-images", collection=self.name,
                        error=str(exc))

    async def run(self, stop: asyncio.Event) -> None:
        await self.enable_pre_images()
        start_at: Timestamp | None = None
        while not stop.is_set():
            options: dict[str, Any] = {"full_document": "updateLookup",
                                       "full_document_before_change": "whenAvailable",
                                       "max_await_time_ms": MAX_AWAIT_MS}
            token = await asyncio.to_thread(self._consumer.tokens.load, self.name)
            if token is not None:
                options["start_after"] = token
            elif start_at is not None:
                options["start_at_operation_time"] = start_at
            try:
                await self._follow(stop, options)
                start_at = None
            except OperationFailure as exc:
                if exc.code != HISTORY_LOST:
                    raise
                log.warning("resume token too old for the oplog; clearing it",
                            collection=self.name)
                await asyncio.to_thread(self._consumer.tokens.clear, self.name)
                start_at = await self.backfill()
            except PyMongoError as exc:  # a transient fault: the stream resumes from the token
                log.warning("change stream failed; resuming", collection=self.name,
                            error=str(exc))
                await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self, stop: asyncio.Event, options: dict[str, Any]) -> None:
        async with await self._collection.watch(**options) as stream:
            while not stop.is_set() and stream.alive:
                event = await stream.try_next()
                if event is None:
                    continue
                planned = await asyncio.to_thread(self._consumer.handle, self.name, event)
                self.handled += 1
                if planned.action is Action.INVALIDATE:
                    return  # reopen with start_after the invalidate token


async def watch(
    url: str, database: str, collections: list[str], consumer: ChangeConsumer,
    stop: asyncio.Event,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    try:
        watchers = [CollectionWatcher(client, database, name, consumer) for name in collections]
        await asyncio.gather(*(watcher.run(stop) for watcher in watchers))
    finally:
        await client.close()
