"""One writer per document in Qdrant at a time, across every worker process and machine.

An ``embed`` and a ``delete`` of the same document (or two embeds of quickly successive
edits) must not interleave their reads and writes of its points, or a tail chunk or a
deleted document's point could survive. A Redis lock on the broker's Redis serializes them;
a lock held by a dead worker expires after the hard time limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from redis.exceptions import LockError

from sluice.broker_redis import broker_redis
from sluice.job_task import Retryable
from sluice.settings import Settings

LOCK_WAIT_SECONDS = 30.0


@contextmanager
def document_lock(settings: Settings, document_id: str) -> Iterator[None]:
    lock = broker_redis(settings).lock(
        f"sluice:document-lock:{document_id}",
        timeout=settings.task_time_limit + 60,
        blocking_timeout=LOCK_WAIT_SECONDS,
    )
    if not lock.acquire():
        raise Retryable(f"document {document_id} is being indexed by another job")
    try:
        yield
    finally:
        # Expired while we worked: the next writer re-checks everything anyway.
        with suppress(LockError):
            lock.release()
