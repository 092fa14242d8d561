"""An event for every version of every job, on a Redis stream per job as the store writes it.

The store calls :class:`JobEventPublisher` after each successful insert and
compare-and-set, so ``GET /v1/jobs/{id}/events`` relays each state change as it happens
(queued, running, retrying, running, succeeded) instead of sampling the store and folding
what changed between two looks. An entry is a :class:`~schemas.job_event.JobEvent` (id,
version, status, reason, the names of the fields that changed), never the job itself: a
write of a large job costs the broker a few hundred bytes, and each stream is capped at
:data:`MAX_ENTRIES`. The version is the server-sent event id: a client that reconnects
with ``Last-Event-ID: <version>`` gets every later version the stream still holds.

The store stays the truth. Publishing is best effort and off the write path (a queue and a
thread per process): a broker that does not answer is left alone for a few seconds, and the
reader falls back to the store whenever the stream is silent, so a lost entry only folds
two versions into one event.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
import structlog

from schemas.job import Job
from schemas.job_event import JobEvent
from sluice.broker_redis import UnsupportedBrokerUrl, broker_url, unix_socket
from sluice.process_id import current_pid
from sluice.settings import Settings

log = structlog.get_logger(__name__)

STREAM_PREFIX = "sluice:job-events:"
# Far more versions than a job lives through; a stream this long is trimmed from its start.
MAX_ENTRIES = 256
PUBLISH_TIMEOUT_SECONDS = 0.5
QUIET_AFTER_FAILURE_SECONDS = 5.0
# How long the publisher gathers events before one call sends them: a round trip costs
# the client ~130 us of CPU however short, so at 600 events/s a 50 ms window shares it
# among ~30 events. A watcher sees a change up to 50 ms later.
BATCH_WINDOW_SECONDS = 0.05
# How long after a store write its event may still reach the stream: the window, a call
# queued behind a full one, and slack for a busy process. Readers wait this long for it
# before reading the version from the store instead.
PUBLISH_LAG_SECONDS = 0.5
# Events per call: the script runs atomically, so a batch holds the broker ~5 us per event.
EVENTS_PER_CALL = 64
# KEYS: one stream per event; ARGV: ttl, maxlen, then a version and an event per key. One
# command for a batch: a pipeline of an XADD and an EXPIRE per event cost the publishing
# process ~100k instructions per event in redis-py's packing and reply parsing alone.
_PUBLISH_SCRIPT = """
for i, key in ipairs(KEYS) do
  redis.call('XADD', key, 'MAXLEN', '~', ARGV[2], '*',
             'version', ARGV[2 * i + 1], 'event', ARGV[2 * i + 2])
  redis.call('EXPIRE', key, ARGV[1])
end
return #KEYS
"""


def events_key(job_id: str) -> str:
    return f"{STREAM_PREFIX}{job_id}"


class JobEventPublisher:
    """Called by the store with each new version; one per process and broker.

    The write path only snapshots the job into a queue; a daemon thread sends what has
    piled up in one script call, so a store write never waits on Redis and a burst of
    writes costs one round trip. What is still queued when the process dies is lost,
    which the reader's fallback to the store covers.
    """

    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._publish = client.register_script(_PUBLISH_SCRIPT)
        self._ttl = ttl_seconds
        self._quiet_until = 0.0
        self._lock = threading.Lock()
        self._pid = -1
        self._pending: queue.SimpleQueue[tuple[str, int, str]] = queue.SimpleQueue()

    def __call__(self, job: Job, previous: Job | None) -> None:
        if current_pid() != self._pid:
            self._start()
        event = JobEvent.between(previous, job)
        self._pending.put((job.id, job.version, event.model_dump_json()))

    def _start(self) -> None:
        with self._lock:
            if current_pid() == self._pid:
                return
            # A forked child inherits neither its parent's thread nor its queued items.
            self._pending = queue.SimpleQueue()
            self._pid = current_pid()
            threading.Thread(target=self._drain, name="job-events", daemon=True).start()

    def _drain(self) -> None:
        pending = self._pending
        while True:
            batch = [pending.get()]
            time.sleep(BATCH_WINDOW_SECONDS)
            while len(batch) < MAX_ENTRIES:
                try:
                    batch.append(pending.get_nowait())
                except queue.Empty:
                    break
            if time.monotonic() >= self._quiet_until:
                self._send(batch)

    def _send(self, batch: list[tuple[str, int, str]]) -> None:
        try:
            for start in range(0, len(batch), EVENTS_PER_CALL):
                keys: list[str] = []
                args: list[str | int] = [self._ttl, MAX_ENTRIES]
                for job_id, version, event in batch[start:start + EVENTS_PER_CALL]:
                    keys.append(events_key(job_id))
                    args += (version, event)
                self._publish(keys=keys, args=args)
        except redis.RedisError as exc:
            self._quiet_until = time.monotonic() + QUIET_AFTER_FAILURE_SECONDS
            log.warning("job events not published; readers fall back to the store",
                        events=len(batch), error=str(exc))


_publishers: dict[str, JobEventPublisher] = {}
_publishers_lock = threading.Lock()


def publisher_for(settings: Settings) -> JobEventPublisher | None:
    """The process's publisher for the configured broker; None when it is not Redis."""
    url = broker_url(settings)
    try:
        socket = unix_socket(url)
    except UnsupportedBrokerUrl:
        return None
    with _publishers_lock:
        found = _publishers.get(url)
        if found is None:
            # Its own client: no retries and a short timeout, unlike the shared one.
            if socket is not None:
                client = redis.Redis(unix_socket_path=socket[0], db=socket[1],
                                     socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                                     socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS)
            else:
                client = redis.Redis.from_url(url, socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                                              socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS)
            found = _publishers[url] = JobEventPublisher(client, settings.job_events_ttl_seconds)
        return found


@dataclass(frozen=True)
class JobVersion:
    stream_id: str
    event: JobEvent


async def read_versions(
    client: redis.asyncio.Redis, job_id: str, after_stream_id: str, block_ms: int | None
) -> list[JobVersion]:
    """Versions published after ``after_stream_id``, waiting up to ``block_ms`` for the first
    (None: no wait; never 0, which Redis takes as "wait forever")."""
    reply: Any = await client.xread(
        {events_key(job_id): after_stream_id}, count=MAX_ENTRIES, block=block_ms or None
    )
    versions = []
    for _key, entries in reply or []:
        for entry_id, fields in entries:
            raw = fields.get(b"event") or fields.get("event")
            if raw is None:
                continue  # an entry of an older release, which held the whole job
            stream_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            versions.append(JobVersion(stream_id, JobEvent.model_validate_json(raw)))
    return versions
