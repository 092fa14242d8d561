"""What the job lifecycle costs on top of Celery.

N no-op jobs through the full lifecycle (job record, sent mark, delivery counting, result
write, on SQLite) against N bare Celery no-op tasks on the same broker and the same worker,
in one run. Prints both rates and their ratio; target: ratio >= 0.5 on 2 cores.

    python -m bench.job_overhead [--jobs 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.overhead_tasks import COUNTER_KEY
from cli.embedded_redis import start_redis
from cli.kinds import load_kinds
from schemas.job import JobStatus
from sluice.celery_app import create_celery_app
from sluice.enqueue import submit
from sluice.logs import configure_logging
from sluice.settings import load_settings
from sluice.stores import JobQuery, open_store

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.02


def wait_until(done: object, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish in time")
        time.sleep(POLL_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        data_dir = Path(tmp)
        server = start_redis(data_dir / "redis", appendonly=False)
        values = {"data_dir": str(data_dir), "broker_url": server.url,
                  "plugins": "bench.overhead_tasks", "log_level": "WARNING"}
        settings = load_settings(**values)
        configure_logging(settings)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT),
               **{f"SLUICE_{k.upper()}": str(v) for k, v in values.items()}}
        celery = create_celery_app(settings, load_kinds(settings))
        store = open_store(settings)
        counter = redis.Redis(unix_socket_path=str(server.socket_path))
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--queues", "cpu", "--pool", "threads",
             "--concurrency", str(args.concurrency)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until(lambda: celery.control.ping(timeout=0.5), timeout=60)
            bare_rates, job_rates = [], []
            for _ in range(args.rounds):
                counter.delete(COUNTER_KEY)
                start = time.perf_counter()
                for _ in range(args.jobs):
                    celery.send_task("bench.noop", queue="cpu")
                wait_until(lambda: int(counter.get(COUNTER_KEY) or 0) >= args.jobs)
                bare_rates.append(args.jobs / (time.perf_counter() - start))

                before = store.count(JobQuery(statuses=(JobStatus.SUCCEEDED,)))
                start = time.perf_counter()
                for index in range(args.jobs):
                    submit("echo", {"i": index}, store=store, celery=celery, settings=settings)
                target = before + args.jobs
                wait_until(
                    lambda t=target: store.count(JobQuery(statuses=(JobStatus.SUCCEEDED,))) >= t
                )
                job_rates.append(args.jobs / (time.perf_counter() - start))
        finally:
            worker.terminate()
            worker.wait(30)
            server.stop()

    bare, jobs = max(bare_rates), max(job_rates)
    print(f"bare celery no-op tasks : {bare:8.0f} tasks/s  (best of {args.rounds})")
    print(f"sluice echo jobs        : {jobs:8.0f} jobs/s   (best of {args.rounds})")
    print(f"ratio jobs/bare         : {jobs / bare:8.2f}   (target >= 0.5)")


if __name__ == "__main__":
    main()
