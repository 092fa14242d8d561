"""A cap on the server-sent-event streams one principal holds open at once.

A stream holds a connection, a task and (for ask) a Redis reader for as long as the
client keeps it; without a cap one key could hold them all. Each API process counts the
streams of each key (``SLUICE_MAX_STREAMS_PER_KEY``); one over the cap is refused with
429 and ``Retry-After`` before anything starts, and a slot is given back when its stream
ends, however it ends (done, client gone, error).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator

from fastapi import HTTPException, status

RETRY_AFTER_SECONDS = 5


class StreamSlots:
    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()

    def claim(self, key_id: str) -> None:
        with self._lock:
            self._refuse_if_full(key_id)
            self._open[key_id] += 1

    def refuse_if_full(self, key_id: str) -> None:
        """Refuse now, before work that a stream would follow (an ask job) is started."""
        with self._lock:
            self._refuse_if_full(key_id)

    def _refuse_if_full(self, key_id: str) -> None:
        if self._open[key_id] >= self.per_key:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                detail=f"this key already holds {self.per_key} open streams; close one",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )

    def release(self, key_id: str) -> None:
        with self._lock:
            self._open[key_id] -= 1
            if self._open[key_id] <= 0:
                del self._open[key_id]

    async def hold(self, key_id: str, stream: AsyncIterator[str]) -> AsyncIterator[str]:
        """``stream``, with the slot claimed beforehand given back when it ends."""
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self.release(key_id)
