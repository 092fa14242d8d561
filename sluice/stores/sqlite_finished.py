"""How many jobs have finished, per kind and terminal status, kept by SQLite itself.

``/metrics`` reports finished jobs as monotonic counters. Counting them from the job table
would read every finished job on every scrape, a cost that grows with history; instead a
trigger adds one to ``jobs_finished`` in the same statement that moves a job into a
terminal status, so the count is exact, costs no extra round trip, and a scrape reads one
small table (kinds x terminal statuses). Terminal statuses are never left and jobs are
never deleted, so each count only grows, as a Prometheus counter must.
"""

from __future__ import annotations

import sqlite3

from schemas.job import TERMINAL
from sluice.stores.migrations import Step

_TERMINAL = ", ".join(f"'{status.value}'" for status in sorted(TERMINAL))

_BUMP = """
    INSERT INTO jobs_finished (kind, status, total) VALUES (NEW.kind, NEW.status, 1)
    ON CONFLICT (kind, status) DO UPDATE SET total = total + 1;
"""

# Migration steps of the job store (owner "jobs"): the table, what a file already holds
# (counted once, in the migration's transaction, so nothing is counted twice), the triggers.
FINISHED_COUNTS_STEPS: tuple[Step, ...] = (
    "CREATE TABLE IF NOT EXISTS jobs_finished (kind TEXT NOT NULL, status TEXT NOT NULL,"
    " total INTEGER NOT NULL, PRIMARY KEY (kind, status))",
    "INSERT OR REPLACE INTO jobs_finished (kind, status, total)"
    f" SELECT kind, status, COUNT(*) FROM jobs WHERE status IN ({_TERMINAL})"
    " GROUP BY kind, status",
    "CREATE TRIGGER IF NOT EXISTS jobs_finished_on_update AFTER UPDATE OF status ON jobs"
    f" WHEN NEW.status IN ({_TERMINAL}) AND OLD.status IS NOT NEW.status BEGIN {_BUMP} END",
    "CREATE TRIGGER IF NOT EXISTS jobs_finished_on_insert AFTER INSERT ON jobs"
    f" WHEN NEW.status IN ({_TERMINAL}) BEGIN {_BUMP} END",
)


def finished_counts(connection: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """(kind, status) -> jobs that have entered that terminal status."""
    rows = connection.execute("SELECT kind, status, total FROM jobs_finished")
    return {(str(kind), str(status)): int(total) for kind, status, total in rows}


__all__ = ["FINISHED_COUNTS_STEPS", "finished_counts"]
