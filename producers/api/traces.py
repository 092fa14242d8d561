"""What the jobs spent their time on: ``/v1/traces`` lists jobs with their timed steps,
``/v1/stats`` sums them (latency, per step, tokens, counts per kind, source and status).

Stats cover the newest ``window`` jobs (default 1,000): enough to see the current shape of
the system without scanning history on every request.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from libs.access.checks import tenant_filter
from producers.api.auth import Reader, owned
from producers.api.dependencies import StoreDep
from schemas.job import Job
from sluice.stores import JobNotFound, JobQuery, JobStore

router = APIRouter(tags=["traces"])


def _ms(job: Job, start: str, end: str) -> float | None:
    began, ended = getattr(job, start), getattr(job, end)
    if began is None or ended is None:
        return None
    return float((ended - began).total_seconds() * 1000)


def trace_of(job: Job) -> dict[str, Any]:
    steps = [step.model_dump(mode="json") for step in job.trace]
    return {
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "source": job.input.get("source"),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        # Queued to finished, as a caller waits; and the run alone, which the steps fill.
        "total_ms": _ms(job, "created_at", "finished_at"),
        "run_ms": _ms(job, "started_at", "finished_at"),
        "steps_ms": sum(step.duration_ms for step in job.trace),
        "steps": steps,
    }


@router.get("/v1/traces")
async def list_traces(
    caller: Reader,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    kind: str | None = None,
) -> dict[str, Any]:
    """The newest jobs (finished ones carry their trace), newest first."""
    page = await run_in_threadpool(
        store.list_jobs, JobQuery(kind=kind, tenant=tenant_filter(caller)), limit=limit
    )
    return {"items": [trace_of(job) for job in page.items]}


@router.get("/v1/traces/{job_id}")
async def get_trace(job_id: str, caller: Reader, store: StoreDep) -> dict[str, Any]:
    try:
        job = await run_in_threadpool(store.get, job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    owned(caller, job.tenant, f"job {job_id}")
    return trace_of(job)


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile: a value that occurred, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "total_ms": sum(values),
        "avg_ms": sum(values) / len(values) if values else None,
        "p50_ms": percentile(values, 0.50),
        "p95_ms": percentile(values, 0.95),
    }


def stats_of(jobs: list[Job]) -> dict[str, Any]:
    latencies: list[float] = []
    run_times: list[float] = []
    steps: dict[str, list[float]] = defaultdict(list)
    tokens: Counter[str] = Counter()
    for job in jobs:
        total = _ms(job, "created_at", "finished_at")
        if total is not None:
            latencies.append(total)
        run = _ms(job, "started_at", "finished_at")
        if run is not None:
            run_times.append(run)
        for step in job.trace:
            steps[step.name].append(step.duration_ms)
            for measure in ("prompt_tokens", "completion_tokens"):
                value = step.attrs.get(measure)
                if isinstance(value, int):
                    tokens[measure] += value
    return {
        "jobs": len(jobs),
        "latency": summary(latencies),
        "run": summary(run_times),
        "steps": {name: summary(values) for name, values in sorted(steps.items())},
        "tokens": {"prompt_tokens": tokens["prompt_tokens"],
                   "completion_tokens": tokens["completion_tokens"]},
        "by_kind": dict(Counter(job.kind for job in jobs)),
        "by_source": dict(Counter(str(job.input.get("source") or "-") for job in jobs)),
        "by_status": dict(Counter(job.status.value for job in jobs)),
    }


def _newest(store: JobStore, query: JobQuery, window: int) -> list[Job]:
    return store.list_jobs(query, limit=window).items


@router.get("/v1/stats")
async def stats(
    caller: Reader,
    store: StoreDep,
    kind: str | None = None,
    window: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """Totals, average, p50 and p95 latency overall and per step, tokens, and counts per kind,
    source and status over the newest ``window`` jobs."""
    query = JobQuery(kind=kind, tenant=tenant_filter(caller))
    jobs = await run_in_threadpool(_newest, store, query, window)
    return {"window": window, **stats_of(jobs)}
