"""The jobs console's filters: every job, newest first, narrowed onto indexed columns.

Status, kind and tenant are columns with a ``(column, created_at, id)`` index; age is a
``created_at`` range; source is ``input.source``, a field of the document with no index, so
it is only looked for within a ``created_at`` window (:data:`SOURCE_WINDOW` unless the age
filter gives a narrower "newer than"). Paging is by the store's (created_at, id) cursor, so
page 200 costs what page 1 costs. The text search looks a job up by its exact id or
idempotency key (both unique indexes), never by scanning. Counts per status stop at
:data:`COUNT_CAP` (:meth:`JobStore.count_upto`), so they cost the same however much
history the store holds.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from libs.access.checks import CLIENT_KEY_PREFIX, client_idempotency_key, tenant_filter
from schemas.job import Job, JobPage, JobStatus, utcnow
from schemas.principal import DEFAULT_TENANT, TENANT_PATTERN, Principal
from sluice.stores import JobNotFound, JobQuery, JobStore

PAGE_SIZE = 50
COUNT_CAP = 1_000
SOURCE_PATH = "input.source"
# Age choices: "newer than" and "older than" a span, as created_at ranges.
AGES: dict[str, tuple[str, timedelta]] = {
    "lt1h": ("newer than 1 h", timedelta(hours=1)),
    "lt24h": ("newer than 24 h", timedelta(hours=24)),
    "lt7d": ("newer than 7 d", timedelta(days=7)),
    "gt1h": ("older than 1 h", timedelta(hours=1)),
    "gt24h": ("older than 24 h", timedelta(hours=24)),
    "gt7d": ("older than 7 d", timedelta(days=7)),
}
MAX_SEARCH_LENGTH = 300
# How far back a source filter looks when the age filter sets no "newer than".
SOURCE_WINDOW = timedelta(days=7)


class BadJobsFilter(ValueError):
    """A filter value the console cannot use; the message says which and why."""


@dataclass(frozen=True)
class JobsFilter:
    status: str = ""
    kind: str = ""
    tenant: str = ""
    source: str = ""
    age: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params: Any) -> JobsFilter:
        values = {name: str(params.get(name) or "").strip() for name in cls.__dataclass_fields__}
        found = cls(**values)
        found.check()
        return found

    def check(self) -> None:
        if self.status and self.status not in {status.value for status in JobStatus}:
            raise BadJobsFilter(f"unknown status {self.status!r}")
        if self.age and self.age not in AGES:
            raise BadJobsFilter(f"unknown age {self.age!r}; one of {', '.join(AGES)}")
        if self.tenant and not re.match(TENANT_PATTERN, self.tenant):
            raise BadJobsFilter(f"{self.tenant!r} is not a tenant name")
        if len(self.q) > MAX_SEARCH_LENGTH:
            raise BadJobsFilter(f"a search is at most {MAX_SEARCH_LENGTH} characters")

    def params(self, **changes: str) -> dict[str, str]:
        """The non-empty filters, as query parameters (with ``changes`` applied)."""
        return {key: value for key, value in {**asdict(self), **changes}.items() if value}

    def query(self, viewer: Principal, now: datetime | None = None) -> JobQuery:
        """The store query for this filter as ``viewer`` may see it: a principal bound to
        one tenant gets that tenant whatever the ``tenant`` field asks for."""
        bound = tenant_filter(viewer)
        tenant = bound if bound is not None else (self.tenant or None)
        created_before = created_after = None
        if self.age:
            span = AGES[self.age][1]
            moment = (now or utcnow()) - span
            if self.age.startswith("lt"):
                created_after = moment
            else:
                created_before = moment
        if self.source and created_after is None:
            created_after = (now or utcnow()) - SOURCE_WINDOW
        return JobQuery(
            statuses=(JobStatus(self.status),) if self.status else (),
            kind=self.kind or None,
            tenant=tenant,
            fields=((SOURCE_PATH, self.source),) if self.source else (),
            created_before=created_before,
            created_after=created_after,
        )


def visible_to(viewer: Principal, job: Job) -> bool:
    bound = tenant_filter(viewer)
    return bound is None or job.tenant == bound


def jobs_page(
    store: JobStore, current: JobsFilter, viewer: Principal, cursor: str | None,
    limit: int = PAGE_SIZE,
) -> JobPage:
    """A page of jobs, newest first; with a search, the (at most few) jobs it names."""
    if current.q:
        return JobPage(items=search(store, current, viewer))
    return store.list_jobs(current.query(viewer), limit=limit, cursor=cursor)


def _key_candidates(current: JobsFilter, viewer: Principal) -> list[str]:
    """Stored forms the typed key may have: as typed (Sluice's own keys, or a client key
    typed whole as ``t:<tenant>:<key>``), and namespaced by the tenant in view."""
    tenant = tenant_filter(viewer) or current.tenant or DEFAULT_TENANT
    namespaced = client_idempotency_key(tenant, current.q)
    candidates = [namespaced] if namespaced else []
    # A principal bound to a tenant may only look up that tenant's namespaced keys.
    if tenant_filter(viewer) is None or current.q.startswith(f"{CLIENT_KEY_PREFIX}{tenant}:"):
        candidates.append(current.q)
    return candidates


def search(store: JobStore, current: JobsFilter, viewer: Principal) -> list[Job]:
    """Jobs whose id or idempotency key is exactly the search text, under the other filters."""
    found: dict[str, Job] = {}
    try:
        job = store.get(current.q)
        found[job.id] = job
    except JobNotFound:
        pass
    for key in _key_candidates(current, viewer):
        by_key = store.get_by_idempotency_key(key)
        if by_key is not None:
            found[by_key.id] = by_key
    return [job for job in found.values() if visible_to(viewer, job) and _matches(job, current)]


def _matches(job: Job, current: JobsFilter) -> bool:
    """The other filters applied to a job found by search (it is one or two jobs)."""
    without_search = replace(current, q="")
    if without_search.status and job.status.value != without_search.status:
        return False
    if without_search.kind and job.kind != without_search.kind:
        return False
    if without_search.tenant and job.tenant != without_search.tenant:
        return False
    return not (without_search.source and job.input.get("source") != without_search.source)


def status_counts(
    store: JobStore, current: JobsFilter, viewer: Principal, cap: int = COUNT_CAP
) -> dict[str, int]:
    """How many jobs per status under the filter's other fields; each count stops at ``cap``."""
    base = replace(current, status="", q="").query(viewer)
    return {
        status.value: store.count_upto(replace(base, statuses=(status,)), cap)
        for status in JobStatus
    }
