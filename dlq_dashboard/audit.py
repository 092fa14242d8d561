"""The append-only audit log: who did what to which item, when, what changed, how long.

One row per action (claim, release, takeover, resolve, requeue, discard, skip, bulk
actions, do-not-train marks). ``changes`` lists field changes as ``{"field", "from",
"to"}``; ``seconds_spent`` is the time from the claim to the action. The table's triggers
refuse UPDATE and DELETE (see :mod:`dlq_dashboard.database`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dlq_dashboard.database import DashboardDatabase
from schemas.job import utcnow
from sluice.stores.base import format_time


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    job_id: str | None
    seconds_spent: float | None
    changes: list[dict[str, Any]]
    detail: dict[str, Any]


def seconds_since(moment: datetime | None) -> float | None:
    return round((utcnow() - moment).total_seconds(), 3) if moment else None


class AuditLog:
    def __init__(self, db: DashboardDatabase) -> None:
        self._db = db

    def append(
        self,
        actor: str,
        action: str,
        job_id: str | None = None,
        *,
        changes: list[dict[str, Any]] | None = None,
        seconds_spent: float | None = None,
        **detail: Any,
    ) -> None:
        self._db.get().execute(
            "INSERT INTO audit (at, actor, action, job_id, seconds_spent, changes, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                format_time(utcnow()),
                actor,
                action,
                job_id,
                seconds_spent,
                json.dumps(changes or [], default=str),
                json.dumps(detail, default=str),
            ),
        )

    def _entries(self, sql: str, params: tuple[Any, ...]) -> list[AuditEntry]:
        rows = self._db.get().execute(
            "SELECT seq, at, actor, action, job_id, seconds_spent, changes, detail FROM audit "
            + sql,
            params,
        )
        return [
            AuditEntry(seq, at, actor, action, job_id, spent, json.loads(ch), json.loads(de))
            for seq, at, actor, action, job_id, spent, ch, de in rows
        ]

    def for_job(self, job_id: str) -> list[AuditEntry]:
        return self._entries("WHERE job_id = ? ORDER BY seq", (job_id,))

    def recent(self, limit: int = 100, before_seq: int | None = None) -> list[AuditEntry]:
        if before_seq is None:
            return self._entries("ORDER BY seq DESC LIMIT ?", (limit,))
        return self._entries("WHERE seq < ? ORDER BY seq DESC LIMIT ?", (before_seq, limit))

    def last_action(self, job_id: str, action: str) -> AuditEntry | None:
        entries = self._entries(
            "WHERE job_id = ? AND action = ? ORDER BY seq DESC LIMIT 1", (job_id, action)
        )
        return entries[0] if entries else None
