"""The worker's ``/metrics`` exporter and heartbeat, run as a bootstep of the worker.

It serves the sum of every pool process's values (prometheus-client's multiprocess mode)
on ``SLUICE_WORKER_METRICS_PORT`` and beats a heartbeat gauge every few seconds.
"""

from __future__ import annotations

import os
import time
from typing import Any

import structlog
from celery import bootsteps
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from sluice.settings import get_settings

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 10.0
HEARTBEAT = Gauge(
    "sluice_worker_heartbeat_timestamp_seconds", "Last heartbeat of a worker node.",
    ["worker"], multiprocess_mode="max",
)


def worker_registry() -> CollectorRegistry:
    """What the worker exporter serves: every process's values, summed."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY

        return REGISTRY
    return registry


class WorkerMetricsExporter(bootsteps.StartStopStep):  # type: ignore[misc]
    """Serves ``/metrics`` from the worker's main process and beats a heartbeat gauge."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._timer_entry: Any = None
        self._server: Any = None

    def start(self, worker: Any) -> None:
        settings = get_settings()
        hostname = str(worker.hostname)

        def beat() -> None:
            HEARTBEAT.labels(worker=hostname).set(time.time())

        beat()
        self._timer_entry = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, beat, (), priority=10)
        if settings.worker_metrics_port is None:
            return
        try:
            self._server, _thread = start_http_server(
                settings.worker_metrics_port, settings.worker_metrics_host,
                registry=worker_registry(),
            )
        except OSError as exc:
            log.warning("worker metrics exporter could not bind",
                        port=settings.worker_metrics_port, error=str(exc))
            return
        log.info("worker metrics exporter listening", port=self._server.server_port)

    def stop(self, worker: Any) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server = None
