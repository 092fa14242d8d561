"""Do the jobs console's reads cost the same with 20x the history?

Fills a SQLite store with a small history (the baseline), times each console read, then
adds older history until the store holds ``--grow`` times as many jobs and times the same
reads again, in one run. Prints each time and the ratio grown / baseline: reads that are
bounded (cursor pages, counts that stop at a cap, windows over ``created_at``) keep it near
1; a read that scanned all history would grow with it.

    python -m bench.jobs_console [--jobs 1000] [--grow 20]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.timing import timed
from dlq_dashboard.jobs_filter import JobsFilter, jobs_page, status_counts
from dlq_dashboard.overview import Overview, store_figures
from libs.access.checks import dashboard_principal
from schemas.job import Job, JobStatus, utcnow
from sluice.settings import load_settings
from sluice.stores.base import JobStore
from sluice.stores.sqlite import SQLiteJobStore

STATUSES = (JobStatus.SUCCEEDED,) * 8 + (JobStatus.DEAD, JobStatus.CANCELLED)
OPERATOR = dashboard_principal("bench", "viewer")


def fill(store: JobStore, count: int, newest_age: timedelta) -> None:
    """``count`` jobs a minute apart, the newest ``newest_age`` old."""
    start = utcnow() - newest_age - timedelta(minutes=count)
    for index in range(count):
        status = STATUSES[index % len(STATUSES)]
        store.create(Job(
            kind="echo" if index % 4 else "embed", status=status,
            reason="exhausted" if status is JobStatus.DEAD else None,
            tenant="acme" if index % 2 else "default",
            input={"message": "hello " * 20, "source": f"crawl:site{index % 5}"},
            created_at=start + timedelta(minutes=index),
        ))


def reads(store: JobStore) -> dict[str, Callable[[], Any]]:
    deep = jobs_page(store, JobsFilter(), OPERATOR, None, limit=400).next_cursor
    return {
        "first page": lambda: jobs_page(store, JobsFilter(), OPERATOR, None),
        "page by cursor": lambda: jobs_page(store, JobsFilter(), OPERATOR, deep),
        "status + tenant": lambda: jobs_page(
            store, JobsFilter(status="succeeded", tenant="acme"), OPERATOR, None),
        "source (windowed)": lambda: jobs_page(
            store, JobsFilter(source="crawl:site3"), OPERATOR, None),
        "search by id": lambda: jobs_page(store, JobsFilter(q="no-such-id"), OPERATOR, None),
        "counts per status": lambda: status_counts(store, JobsFilter(), OPERATOR),
        "overview (store part)": lambda: store_figures(store, Overview()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1_000)
    parser.add_argument("--grow", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        store = SQLiteJobStore(settings.sqlite_path)
        fill(store, args.jobs, timedelta(minutes=1))
        baseline = {name: timed(read) for name, read in reads(store).items()}
        # Older history: everything beyond the windows, twenty times what was there.
        fill(store, args.jobs * (args.grow - 1), timedelta(days=10))
        grown = {name: timed(read) for name, read in reads(store).items()}
        print(f"{args.jobs:,} jobs -> {args.jobs * args.grow:,} jobs (SQLite, median of 9)")
        for name in baseline:
            print(f"  {name:22} {baseline[name]:8.2f} ms -> {grown[name]:8.2f} ms"
                  f"   ratio {grown[name] / baseline[name]:5.2f}")
        store.close()


if __name__ == "__main__":
    main()
