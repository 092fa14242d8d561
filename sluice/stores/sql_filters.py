"""A job query as SQL ``WHERE`` clauses, written once for both SQL job stores.

The plain columns a :class:`~sluice.stores.base.JobQuery` filters on (kind, reason, tenant and
the time bounds) read alike on SQLite and PostgreSQL but for the parameter mark and how a
time is passed. A status set and a field of the job's document do not, so each store gives
those two clauses in its :class:`SQLDialect`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.job import JobStatus
from sluice.stores.base import JobQuery

# One clause and its parameters, in the order the clause's marks stand.
Clause = tuple[str, list[Any]]


@dataclass(frozen=True)
class SQLDialect:
    """What one SQL store writes its own way."""

    mark: str  # the parameter mark: "?" or "%s"
    time: Callable[[datetime], Any]  # a time as a parameter
    statuses: Callable[[Sequence[JobStatus]], Clause]  # status is one of these
    field: Callable[[str, Any], Clause]  # the document's dotted path equals a value
    # Prefixed to the wake-up bound (SQLite: so its partial index on wake_at is used).
    wake_guard: str = ""


def filter_clauses(query: JobQuery, dialect: SQLDialect) -> tuple[list[str], list[Any]]:
    """The clauses (to be joined with AND) and their parameters, in order."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(clause: Clause) -> None:
        clauses.append(clause[0])
        params.extend(clause[1])

    if query.statuses:
        add(dialect.statuses(query.statuses))
    reason = query.reason.value if query.reason else None
    for column, value in (("kind", query.kind), ("reason", reason), ("tenant", query.tenant)):
        if value:
            add((f"{column} = {dialect.mark}", [value]))
    for path, value in query.fields:
        add(dialect.field(path, value))
    bounds = (
        ("created_at <", query.created_before),
        ("created_at >", query.created_after),
        ("updated_at <", query.updated_before),
        (f"{dialect.wake_guard}wake_at <=", query.wake_before),
    )
    for column, bound in bounds:
        if bound:
            add((f"{column} {dialect.mark}", [dialect.time(bound)]))
    return clauses, params


def where_sql(clauses: Sequence[str]) -> str:
    """``WHERE`` and the clauses joined with AND; nothing when there are none."""
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""
