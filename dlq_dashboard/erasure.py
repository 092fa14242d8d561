"""The dashboard's part of erasure and retention: its audit trail and "do not train" marks.

Erasing a person blanks what the audit entries recorded about them (record edits, notes)
for the erased jobs and wherever their address appears, and appends an entry with a hash
of the address: the trail still says that an erasure happened, when and how much it
touched, without saying whose. The retention sweep deletes entries older than
``SLUICE_KEEP_AUDIT_DAYS`` and appends an entry saying how many and up to when. Both pass
the append-only triggers with a permit that lives only inside their transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from dlq_dashboard.database import DashboardDatabase, Statements
from libs.erasure import subject_hash
from schemas.job import utcnow
from sluice.settings import Settings
from sluice.stores.base import format_time

if TYPE_CHECKING:
    from dlq_dashboard.services import Services

ERASED = json.dumps({"erased": True})
AUDIT_SWEEP_SECONDS = 3600
log = structlog.get_logger(__name__)


def erase_from_audit(db: DashboardDatabase, address: str, job_ids: Sequence[str]) -> int:
    """Blank the audit entries about ``address`` or the erased jobs; how many."""
    ids = list(job_ids)
    marks = ", ".join("?" * len(ids)) or "NULL"
    db.get().execute("PRAGMA secure_delete = ON")  # overwrite what the update frees
    with db.transaction() as connection:
        connection.execute("INSERT INTO audit_permits (purpose) VALUES ('erasure')")
        blanked = connection.execute(
            f"UPDATE audit SET changes = '[]', detail = ? WHERE job_id IN ({marks})"
            " OR instr(lower(changes), lower(?)) > 0 OR instr(lower(detail), lower(?)) > 0",
            [ERASED, *ids, address, address],
        ).rowcount
        connection.execute("DELETE FROM audit_permits")
        connection.execute(
            f"DELETE FROM training_exclusions WHERE job_id IN ({marks})", ids
        )
        _append(connection, "erase", {"subject_sha256": subject_hash(address),
                                      "audit_entries_blanked": blanked, "jobs": len(ids)})
    return int(blanked)


def purge_audit(db: DashboardDatabase, settings: Settings, *, now: datetime | None = None) -> int:
    """Delete audit entries older than the retention period, in batches; how many."""
    if settings.keep_audit_days == 0:
        return 0
    cutoff = format_time((now or utcnow()) - timedelta(days=settings.keep_audit_days))
    purged = 0
    while True:
        with db.transaction() as connection:
            connection.execute("INSERT INTO audit_permits (purpose) VALUES ('retention')")
            deleted = int(connection.execute(
                "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ?"
                " AND action != 'retention' ORDER BY seq LIMIT ?)",
                (cutoff, settings.retention_batch),
            ).rowcount)
            connection.execute("DELETE FROM audit_permits")
            if deleted:
                _append(connection, "retention", {"purged": deleted, "before": cutoff})
        purged += deleted
        if deleted < settings.retention_batch:
            return purged


async def sweep_audit_hourly(services: Services) -> None:
    """The dashboard's retention sweep, run by each dashboard process while it serves (the
    purge is idempotent, so replicas running it too do no harm)."""
    while True:
        try:
            purged = await asyncio.to_thread(purge_audit, services.db, services.settings)
            if purged:
                log.info("audit entries purged", purged=purged)
        except Exception as exc:  # a failed sweep is retried next hour, never fatal
            log.warning("audit retention sweep failed", error=str(exc))
        await asyncio.sleep(AUDIT_SWEEP_SECONDS)


def _append(connection: Statements, action: str, detail: dict[str, object]) -> None:
    connection.execute(
        "INSERT INTO audit (at, actor, action, job_id, seconds_spent, changes, detail)"
        " VALUES (?, 'sluice', ?, NULL, NULL, '[]', ?)",
        (format_time(utcnow()), action, json.dumps(detail)),
    )
