"""The job store's work per job in CPU instructions: a figure that does not move with load.

Times on these machines move by +-15% between runs minutes apart, so a change of a few
percent in the store's hot path cannot be seen in ``bench/job_overhead.py``. This counts
the user-space instructions (valgrind's callgrind) of one job's worker-side store work on
SQLite: its first delivery and its success, with the events its observers build. Two runs
in a child process, one with ``--jobs`` jobs and one with none, and the difference per job;
system calls are not counted. Needs valgrind (every machine kind here has it).

    python -m bench.store_instructions [--jobs 300]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from schemas.job import Job, JobStatus
from schemas.job_event import JobEvent
from sluice.stores.sqlite import SQLiteJobStore

SETUP_JOBS = 400


def run_jobs(count: int) -> None:
    """The measured work: ``count`` jobs delivered and settled, after the same setup."""
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        store = SQLiteJobStore(Path(tmp) / "jobs.db")
        store.observe(lambda job, previous: JobEvent.between(previous, job).model_dump_json())
        jobs = [store.create(Job(kind="echo", input={"i": index}, task_id=uuid.uuid4().hex))[0]
                for index in range(SETUP_JOBS)]
        for job in jobs[:count]:
            decision = store.begin_delivery(job.id, job.task_id or "")
            store.transition(job.id, JobStatus.SUCCEEDED, result={"i": 1}, error=None,
                             trace=[], known=decision.job)
        store.close()


def instructions(count: int) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         "-m", "bench.store_instructions", "--child", str(count)],
        capture_output=True, text=True, check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"valgrind reported no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        run_jobs(args.child)
        return
    if not 0 < args.jobs <= SETUP_JOBS:
        parser.error(f"--jobs must be between 1 and {SETUP_JOBS}")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian package valgrind)")
    per_job = (instructions(args.jobs) - instructions(0)) / args.jobs
    print(f"store work per job (first delivery + success, SQLite): {per_job / 1000:,.0f}k "
          f"instructions  ({args.jobs} jobs, callgrind)")


if __name__ == "__main__":
    main()
