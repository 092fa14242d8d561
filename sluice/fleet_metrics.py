"""What the fleet looks like, read when Prometheus scrapes the API's ``/metrics``.

Jobs by kind and status and the dead-letter queue by reason (from the store), queue depth
and the age of the oldest message per queue (from Redis), plus whatever gauges the caller
adds (the API adds the LLM budgets and kill switch from ``libs.llm.metrics``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from schemas.job import DEAD_LETTERED, JobStatus
from sluice.broker_queues import oldest_message_age, queue_depth
from sluice.kinds import Queue
from sluice.settings import Settings

log = structlog.get_logger(__name__)

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
        self._cached: list[GaugeMetricFamily] = []
        self._cached_at = 0.0
        self._lock = threading.Lock()

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            if time.monotonic() - self._cached_at > self.ttl:
                self._cached = list(self._gather())
                self._cached_at = time.monotonic()
            yield from self._cached

    def _gather(self) -> Iterator[GaugeMetricFamily]:
        from sluice.stores import JobQuery

        jobs = GaugeMetricFamily(
            "sluice_jobs", "Jobs by kind and status.", labels=["kind", "status"]
        )
        dead = GaugeMetricFamily(
            "sluice_dead_letter_jobs", "Jobs in the dead-letter queue by reason.", labels=["reason"]
        )
        try:
            for status in JobStatus:
                by_kind = self.store.count_by(JobQuery(statuses=(status,)), "kind")
                for kind, count in by_kind.items():
                    jobs.add_metric([str(kind), status.value], count)
            by_reason = self.store.count_by(JobQuery(statuses=tuple(DEAD_LETTERED)), "reason")
            for reason, count in by_reason.items():
                dead.add_metric([str(reason or "unknown")], count)
            yield jobs
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
