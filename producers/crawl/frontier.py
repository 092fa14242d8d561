"""A crawl: its record, its page budget, and the rule that each URL is fetched once.

A crawl is a record in the state store plus ``crawl.fetch`` jobs whose idempotency key is
``crawl:<crawl id>:<canonical url>``: a URL linked from ten pages is one job. The page
budget (``--max-pages``) is a counter in the broker's Redis, taken before a new URL is
submitted, so parallel fetchers cannot overshoot it by more than the URLs they submit at
the same instant that were already known.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import redis
from celery import Celery

from producers.crawl.urls import canonical_url, host_of
from producers.state_store import StateStore
from schemas.job import JobStatus, utcnow
from sluice.enqueue import submit
from sluice.settings import Settings
from sluice.stores import JobQuery, JobStore

FETCH_KIND = "crawl.fetch"
RUNS_NAMESPACE = "crawl.runs"
BUDGET_KEY = "sluice:crawl:{crawl_id}:pages"
BUDGET_TTL_SECONDS = 7 * 24 * 3600
Scope = Literal["site", "any"]


def fetch_key(crawl_id: str, url: str) -> str:
    return f"crawl:{crawl_id}:{url}"


@dataclass(frozen=True)
class CrawlSpec:
    crawl_id: str
    seed_hosts: list[str]
    max_depth: int
    max_pages: int
    scope: Scope

    def job_input(self, url: str, depth: int) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id, "url": url, "depth": depth, "max_depth": self.max_depth,
            "max_pages": self.max_pages, "scope": self.scope, "seed_hosts": self.seed_hosts,
        }

    @classmethod
    def from_job_input(cls, data: dict[str, Any]) -> CrawlSpec:
        return cls(data["crawl_id"], list(data["seed_hosts"]), int(data["max_depth"]),
                   int(data["max_pages"]), data["scope"])


class Frontier:
    def __init__(
        self, *, store: JobStore, celery: Celery, settings: Settings, redis_client: redis.Redis
    ) -> None:
        self._store = store
        self._celery = celery
        self._settings = settings
        self._redis = redis_client

    def start(
        self, state: StateStore, seeds: list[str], *, max_depth: int, max_pages: int,
        scope: Scope,
    ) -> CrawlSpec:
        canonical = list(dict.fromkeys(canonical_url(seed) for seed in seeds))
        hosts = sorted({host_of(seed) for seed in canonical})
        spec = CrawlSpec(uuid.uuid4().hex[:16], hosts, max_depth, max_pages, scope)
        state.put(RUNS_NAMESPACE, spec.crawl_id, {
            "seeds": canonical, "max_depth": max_depth, "max_pages": max_pages,
            "scope": scope, "created_at": utcnow().isoformat(),
        })
        for seed in canonical[:max_pages]:
            self.add(spec, seed, 0)
        return spec

    def add(self, spec: CrawlSpec, url: str, depth: int) -> bool:
        """Submit a fetch of ``url`` unless known to this crawl or over its page budget."""
        key = fetch_key(spec.crawl_id, url)
        if self._store.get_by_idempotency_key(key) is not None:
            return False
        budget = BUDGET_KEY.format(crawl_id=spec.crawl_id)
        taken = int(self._redis.incr(budget))
        self._redis.expire(budget, BUDGET_TTL_SECONDS)
        if taken > spec.max_pages:
            return False
        _, created = submit(FETCH_KIND, spec.job_input(url, depth), idempotency_key=key,
                            store=self._store, celery=self._celery, settings=self._settings)
        return created


def crawl_summary(store: JobStore, crawl_id: str) -> dict[str, Any]:
    """Jobs of a crawl by job status and by page outcome, and whether it has finished."""
    jobs = list(store.iter_jobs(JobQuery(kind=FETCH_KIND, fields=(("input.crawl_id", crawl_id),))))
    statuses = Counter(job.status.value for job in jobs)
    pages = Counter(
        str(job.result.get("status")) for job in jobs
        if job.status is JobStatus.SUCCEEDED and isinstance(job.result, dict)
    )
    return {
        "crawl_id": crawl_id,
        "jobs": len(jobs),
        "finished": all(job.settled for job in jobs),
        "statuses": dict(statuses),
        "pages": dict(pages),
    }
