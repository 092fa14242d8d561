"""A Redis stream per job: the worker appends events as it works, any API process relays them.

Entry ids are Redis stream ids (``1732000000000-0``), strictly increasing, and double as
server-sent-event ids: a client that reconnects with ``Last-Event-ID`` resumes exactly after
the last event it saw, with no gap and no repeat, from whichever API process it reaches. The
stream outlives the HTTP request (a client that goes away does not stop the job) and expires
``SLUICE_TOKEN_STREAM_TTL_SECONDS`` after its last event.

Events of an answer: ``sources``, ``token`` (many), then ``done`` or ``error``. A job retried
after a transient fault appends ``reset`` before it starts again: text received before a
``reset`` is to be discarded.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio

STREAM_PREFIX = "sluice:events:"
START = "0-0"
_ENTRY_ID = re.compile(r"^\d+-\d+$")


class InvalidEventId(ValueError):
    """A Last-Event-ID that is not a stream id this server handed out."""


def stream_key(job_id: str) -> str:
    return f"{STREAM_PREFIX}{job_id}"


def checked_event_id(value: str | None) -> str:
    if value is None or value == "":
        return START
    if not _ENTRY_ID.match(value):
        raise InvalidEventId(f"Last-Event-ID {value!r} is not a stream id like 1700000000000-0")
    return value


@dataclass(frozen=True)
class StreamEvent:
    id: str
    event: str
    data: dict[str, Any]

    def as_sse(self) -> str:
        return f"id: {self.id}\nevent: {self.event}\ndata: {json.dumps(self.data)}\n\n"


class TokenStreamWriter:
    """The worker's side: append events to one job's stream (the client is borrowed)."""

    def __init__(self, client: redis.Redis, job_id: str, ttl_seconds: int) -> None:
        self._client = client
        self.key = stream_key(job_id)
        self._ttl = ttl_seconds

    def append(self, event: str, data: dict[str, Any]) -> str:
        pipe = self._client.pipeline(transaction=False)
        pipe.xadd(self.key, {"event": event, "data": json.dumps(data)})
        pipe.expire(self.key, self._ttl)
        entry_id, _ = pipe.execute()
        return str(entry_id)

    def length(self) -> int:
        return int(self._client.xlen(self.key))


def _decode(entry_id: Any, fields: dict[Any, Any]) -> StreamEvent:
    def text(value: Any) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    decoded = {text(key): text(value) for key, value in fields.items()}
    return StreamEvent(
        id=text(entry_id), event=decoded.get("event", "message"),
        data=json.loads(decoded.get("data", "{}")),
    )


async def read_after(
    client: redis.asyncio.Redis,
    job_id: str,
    after: str,
    *,
    block_ms: int | None,
    count: int = 200,
) -> list[StreamEvent]:
    """Events after ``after``, waiting up to ``block_ms`` for the first one (None: no wait;
    never 0, which Redis takes as "wait forever")."""
    reply: Any = await client.xread(
        {stream_key(job_id): after}, count=count, block=block_ms or None
    )
    events: list[StreamEvent] = []
    for _key, entries in reply or []:
        events.extend(_decode(entry_id, fields) for entry_id, fields in entries)
    return events


def read_all(client: redis.Redis, job_id: str) -> list[StreamEvent]:
    """Every event so far (tests and the CLI)."""
    entries: Any = client.xrange(stream_key(job_id))
    return [_decode(entry_id, fields) for entry_id, fields in entries or []]
