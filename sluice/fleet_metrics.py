"""What the fleet looks like, read when Prometheus scrapes the API's ``/metrics``.

From the store: finished jobs as monotonic counters per kind and terminal status
(``sluice_jobs_finished_total``, kept by the store at the transition), and gauges only for
the live sets, whose size does not grow with history: jobs queued, running, retrying, dead
or claimed per kind (``sluice_jobs``) and the dead-letter queue by reason. Every store read
is an indexed count over a live set or a read of the small counter table, so a scrape costs
the same with a thousand finished jobs as with a million. From Redis: queue depth and the
age of the oldest message per queue. Plus whatever gauges the caller adds (the API adds the
LLM budgets and kill switch from ``libs.llm.metrics``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.job import DEAD_LETTERED, TERMINAL, JobStatus
from sluice.broker_queues import oldest_message_age, queue_depth
from sluice.kinds import Queue
from sluice.settings import Settings

log = structlog.get_logger(__name__)

# States a job passes through or waits in: bounded by the work in flight, not by history.
LIVE: tuple[JobStatus, ...] = tuple(status for status in JobStatus if status not in TERMINAL)

# Extra gauges read at scrape time; one that raises is logged and left out.
Gauges = Callable[[Settings], Iterable[GaugeMetricFamily]]


class FleetCollector(Collector):
    """Reads the store and Redis when Prometheus scrapes; caches for ``ttl`` seconds so a
    burst of scrapes cannot load the store."""

    def __init__(
        self, settings: Settings, store: Any, ttl: float = 5.0, extra: Sequence[Gauges] = ()
    ) -> None:
        self.settings = settings
        self.store = store
        self.ttl = ttl
        self.extra = tuple(extra)
        self._cached: list[Metric] = []
        self._cached_at = 0.0
        self._lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._cached_at > self.ttl:
                self._cached = list(self._gather())
                self._cached_at = time.monotonic()
            yield from self._cached

    def _gather(self) -> Iterator[Metric]:
        from sluice.stores import JobQuery

        jobs = GaugeMetricFamily(
            "sluice_jobs", "Jobs waiting, running or dead-lettered now, by kind and status.",
            labels=["kind", "status"],
        )
        finished = CounterMetricFamily(
            "sluice_jobs_finished", "Jobs that reached a terminal status, by kind and status.",
            labels=["kind", "status"],
        )
        dead = GaugeMetricFamily(
            "sluice_dead_letter_jobs", "Jobs in the dead-letter queue by reason.", labels=["reason"]
        )
        try:
            for status in LIVE:
                by_kind = self.store.count_by(JobQuery(statuses=(status,)), "kind")
                for kind, count in by_kind.items():
                    jobs.add_metric([str(kind), status.value], count)
            for (kind, status_name), count in sorted(self.store.finished_counts().items()):
                finished.add_metric([kind, status_name], count)
            by_reason = self.store.count_by(JobQuery(statuses=tuple(DEAD_LETTERED)), "reason")
            for reason, count in by_reason.items():
                dead.add_metric([str(reason or "unknown")], count)
            yield jobs
            yield finished
            yield dead
        except Exception as exc:
            log.warning("metrics could not read the store", error=str(exc))
        yield from self._gather_queues()
        for gauges in self.extra:
            try:
                yield from list(gauges(self.settings))
            except Exception as exc:
                log.warning("metrics could not read Redis", error=str(exc))

    def _gather_queues(self) -> Iterator[GaugeMetricFamily]:
        from sluice.broker_redis import broker_redis

        depth = GaugeMetricFamily(
            "sluice_queue_depth", "Messages waiting in a queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "sluice_queue_oldest_message_age_seconds",
            "Age of the oldest waiting message in a queue.", labels=["queue"],
        )
        try:
            client = broker_redis(self.settings)
            now = time.time()
            for queue in Queue:
                depth.add_metric([queue.value], queue_depth(client, queue.value))
                age.add_metric([queue.value], oldest_message_age(client, queue.value, now))
        except Exception as exc:
            log.warning("metrics could not read Redis", error=str(exc))
            return
        yield from (depth, age)
