"""``GET /metrics``: Prometheus text for this API process and for the fleet.

Unauthenticated like the health probes, so Prometheus can scrape it; it holds counts and
ids, never job content or keys. The fleet half (jobs by kind and status, dead-letter queue,
queue depth and oldest-message age, budgets, kill switch) is read at scrape time by
:class:`sluice.fleet_metrics.FleetCollector`, with the LLM gauges of
:func:`libs.llm.metrics.budget_gauges`.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from libs.llm.metrics import budget_gauges
from sluice.fleet_metrics import FleetCollector

router = APIRouter(tags=["metrics"])


def fleet_registry(request: Request) -> CollectorRegistry:
    registry: CollectorRegistry | None = getattr(request.app.state, "fleet_registry", None)
    if registry is None:
        registry = CollectorRegistry()
        registry.register(FleetCollector(request.app.state.settings, request.app.state.store,
                                          extra=[budget_gauges]))
        request.app.state.fleet_registry = registry
    return registry


def process_registry() -> CollectorRegistry:
    """This process's counters; summed over processes when the API runs several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    body = generate_latest(process_registry()) + generate_latest(fleet_registry(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
