"""``GET /v1/stats/extraction``: how well extraction works, per schema, model and mode,
and per model route (``SLUICE_LLM_ROUTES``: which calls took which route, what they cost,
how many the response cache answered).

Computed from the attempt ledgers of recent ``extract`` jobs (the newest ``limit``, at most
10,000, read a page at a time and never held all at once), so the figures count every
attempt, failed ones included: tokens per accepted record is what an accepted record
really cost. Agreement samples (acceptance mode ``verified``) count in the tokens, not as
attempts: "succeeded at attempt 2" means the second correction attempt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from libs.access.checks import tenant_filter
from producers.api.auth import Reader
from producers.api.dependencies import StoreDep
from schemas.attempt import AttemptOutcome
from schemas.job import Job, JobStatus
from sluice.stores import JobQuery

router = APIRouter(prefix="/v1/stats", tags=["stats"])
EXTRACT_KIND = "extract"
PAGE = 500
# The newest jobs one request may fold in: a bounded window, whatever the history holds.
MAX_WINDOW = 10_000


class SignatureCount(BaseModel):
    signature: str
    count: int


class ExtractionGroup(BaseModel):
    schema_name: str | None
    model: str | None
    mode: str | None
    jobs: int
    finished: int
    succeeded: int
    dead_lettered: int
    first_pass_valid_rate: float | None
    success_by_attempt: dict[str, int]
    attempts: int
    tokens: int
    tokens_per_accepted_record: float | None
    dlq_rate: float | None
    top_error_signatures: list[SignatureCount]


class RouteGroup(BaseModel):
    """Every call that took one route: attempts and agreement samples alike."""

    route: str
    calls: int
    valid: int
    valid_rate: float | None
    cached: int
    tokens: int
    models: list[str]


class ExtractionStats(BaseModel):
    jobs_considered: int
    since: datetime | None
    groups: list[ExtractionGroup]
    routes: list[RouteGroup] = []


@dataclass
class _RouteTally:
    calls: int = 0
    valid: int = 0
    cached: int = 0
    tokens: int = 0
    models: set[str] = field(default_factory=set)

    def group(self, route: str) -> RouteGroup:
        return RouteGroup(
            route=route, calls=self.calls, valid=self.valid,
            valid_rate=_ratio(self.valid, self.calls), cached=self.cached, tokens=self.tokens,
            models=sorted(self.models),
        )


class RouteTallies:
    """Per route, from every attempt on the ledgers (rows from before routes: ``default``),
    folded job by job."""

    def __init__(self) -> None:
        self._tallies: dict[str, _RouteTally] = {}

    def add(self, job: Job) -> Job:
        for attempt in job.attempts:
            tally = self._tallies.setdefault(attempt.route or "default", _RouteTally())
            tally.calls += 1
            tally.valid += attempt.outcome is AttemptOutcome.VALID
            tally.cached += attempt.cached
            tally.tokens += attempt.tokens
            if attempt.model:
                tally.models.add(attempt.model)
        return job

    def groups(self) -> list[RouteGroup]:
        return [self._tallies[name].group(name) for name in sorted(self._tallies)]


@dataclass
class _Tally:
    jobs: int = 0
    with_attempts: int = 0
    first_pass_valid: int = 0
    finished: int = 0
    succeeded: int = 0
    dead_lettered: int = 0
    attempts: int = 0
    tokens: int = 0
    by_attempt: Counter[str] = field(default_factory=Counter)
    signatures: Counter[str] = field(default_factory=Counter)

    def add(self, job: Job) -> None:
        self.jobs += 1
        self.tokens += sum(attempt.tokens for attempt in job.attempts)
        attempts = [attempt for attempt in job.attempts if not attempt.sample]
        self.attempts += len(attempts)
        if attempts:
            self.with_attempts += 1
            if attempts[0].outcome is AttemptOutcome.VALID:
                self.first_pass_valid += 1
        if job.status is JobStatus.SUCCEEDED:
            self.finished += 1
            self.succeeded += 1
            valid = [a for a in attempts if a.outcome is AttemptOutcome.VALID]
            if valid:
                self.by_attempt[str(valid[-1].number)] += 1
        elif job.reason is not None:  # dead now, or dead before a person acted on it
            self.finished += 1
            self.dead_lettered += 1
            self.signatures[job.error_signature or "(none)"] += 1

    def group(self, key: tuple[str | None, str | None, str | None], top: int) -> ExtractionGroup:
        schema_name, model, mode = key
        return ExtractionGroup(
            schema_name=schema_name,
            model=model,
            mode=mode,
            jobs=self.jobs,
            finished=self.finished,
            succeeded=self.succeeded,
            dead_lettered=self.dead_lettered,
            first_pass_valid_rate=_ratio(self.first_pass_valid, self.with_attempts),
            success_by_attempt=dict(sorted(self.by_attempt.items(), key=lambda kv: int(kv[0]))),
            attempts=self.attempts,
            tokens=self.tokens,
            tokens_per_accepted_record=_ratio(self.tokens, self.succeeded),
            dlq_rate=_ratio(self.dead_lettered, self.finished),
            top_error_signatures=[
                SignatureCount(signature=s, count=c) for s, c in self.signatures.most_common(top)
            ],
        )


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _key(job: Job) -> tuple[str | None, str | None, str | None]:
    first = job.attempts[0] if job.attempts else None
    schema = job.schema_name or job.input.get("schema")
    if first is None:
        return (str(schema) if schema else None, None, None)
    return (str(schema) if schema else None, first.model or None, first.mode or None)


def extraction_stats(jobs: Iterable[Job], *, top: int = 5) -> list[ExtractionGroup]:
    tallies: dict[tuple[str | None, str | None, str | None], _Tally] = {}
    for job in jobs:
        tallies.setdefault(_key(job), _Tally()).add(job)
    return [
        tally.group(key, top)
        for key, tally in sorted(tallies.items(), key=lambda kv: tuple(str(p) for p in kv[0]))
    ]


@router.get("/extraction", response_model=ExtractionStats)
def get_extraction_stats(
    caller: Reader,
    store: StoreDep,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_WINDOW)] = MAX_WINDOW,
    top: Annotated[int, Query(ge=1, le=50)] = 5,
) -> ExtractionStats:
    """First-pass valid rate, success by attempt, tokens per accepted record, DLQ rate and
    top error signatures for the newest ``limit`` extract jobs (created after ``since``),
    and per model route: calls, valid answers, cached answers, tokens and models."""
    query = JobQuery(kind=EXTRACT_KIND, created_after=since, tenant=tenant_filter(caller))
    considered = 0

    def newest() -> Iterator[Job]:
        # One page in memory at a time: the figures are sums, folded job by job.
        nonlocal considered
        cursor: str | None = None
        while considered < limit:
            page = store.list_jobs(query, limit=min(PAGE, limit - considered), cursor=cursor)
            considered += len(page.items)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    routes = RouteTallies()
    groups = extraction_stats(map(routes.add, newest()), top=top)
    return ExtractionStats(
        jobs_considered=considered, since=since, groups=groups, routes=routes.groups()
    )
