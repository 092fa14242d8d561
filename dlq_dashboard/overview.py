"""The overview: what waits in each queue, the last hour's outcomes, DLQ inflow by reason.

Queue depth and the oldest message's age come from the broker's Redis
(:mod:`sluice.broker_queues`, as the fleet metrics read them). The rest is the job store
over a window of ``created_at`` (an indexed range): the jobs submitted in the last hour by
how they stand now (succeeded, dead-lettered, still open), and the dead-lettered jobs of
the last hour and day by reason. Reads are bounded by the window, never all history, and
the figures are cached for a few seconds so many open pages cost one read.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from schemas.job import DEAD_LETTERED, JobStatus, utcnow
from sluice.broker_queues import oldest_message_age, queue_depth
from sluice.kinds import Queue
from sluice.settings import Settings
from sluice.stores import JobQuery, JobStore

log = structlog.get_logger(__name__)

CACHE_SECONDS = 5.0
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Every state a job reaches once it was dead-lettered, whatever a person did next.
EVER_DEAD = tuple(sorted(DEAD_LETTERED | {JobStatus.REQUEUED, JobStatus.RESOLVED,
                                          JobStatus.DISCARDED}))
OPEN = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.RETRYING)


@dataclass(frozen=True)
class QueueLoad:
    name: str
    depth: int
    oldest_seconds: float


@dataclass(frozen=True)
class ReasonInflow:
    reason: str
    last_hour: int
    last_day: int


@dataclass
class Overview:
    queues: list[QueueLoad] = field(default_factory=list)
    broker_error: str | None = None
    succeeded: int = 0
    dead_lettered: int = 0
    open: int = 0
    cancelled: int = 0
    inflow: list[ReasonInflow] = field(default_factory=list)

    @property
    def failure_rate(self) -> float | None:
        """Dead-lettered over settled, for the last hour's jobs; None with none settled."""
        settled = self.succeeded + self.dead_lettered
        return self.dead_lettered / settled if settled else None


def queue_loads(settings: Settings) -> list[QueueLoad]:
    from sluice.broker_redis import broker_redis

    client = broker_redis(settings)
    now = time.time()
    return [QueueLoad(queue.value, queue_depth(client, queue.value),
                      oldest_message_age(client, queue.value, now)) for queue in Queue]


def gather(store: JobStore, settings: Settings) -> Overview:
    overview = Overview()
    try:
        overview.queues = queue_loads(settings)
    except Exception as exc:  # the page still shows the store's figures
        log.warning("overview could not read the broker", error=str(exc))
        overview.broker_error = type(exc).__name__
    store_figures(store, overview)
    return overview


def store_figures(store: JobStore, overview: Overview) -> Overview:
    """The last hour's outcomes and the DLQ inflow, each a count over a created_at window."""
    now = utcnow()
    hour_ago, day_ago = now - HOUR, now - DAY
    overview.succeeded = store.count(
        JobQuery(statuses=(JobStatus.SUCCEEDED,), created_after=hour_ago))
    overview.dead_lettered = store.count(JobQuery(statuses=EVER_DEAD, created_after=hour_ago))
    overview.open = store.count(JobQuery(statuses=OPEN, created_after=hour_ago))
    overview.cancelled = store.count(
        JobQuery(statuses=(JobStatus.CANCELLED,), created_after=hour_ago))
    last_hour = store.count_by(JobQuery(statuses=EVER_DEAD, created_after=hour_ago), "reason")
    last_day = store.count_by(JobQuery(statuses=EVER_DEAD, created_after=day_ago), "reason")
    overview.inflow = sorted(
        (ReasonInflow(str(reason or "unknown"), last_hour.get(reason, 0), count)
         for reason, count in last_day.items()),
        key=lambda row: (-row.last_hour, -row.last_day, row.reason),
    )
    return overview


class OverviewCache:
    """One :func:`gather` per ``ttl`` seconds, however many pages poll it."""

    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, Overview] | None = None

    def get(self, store: JobStore, settings: Settings) -> Overview:
        with self._lock:
            if self._cached is not None and self._cached[0] > time.monotonic():
                return self._cached[1]
            overview = gather(store, settings)
            self._cached = (time.monotonic() + self._ttl, overview)
            return overview

    def clear(self) -> None:
        with self._lock:
            self._cached = None
