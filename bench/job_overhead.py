"""What the job lifecycle costs on top of Celery.

N no-op jobs through the full lifecycle (job record with its sent mark, delivery counting,
result write, on SQLite) against N bare Celery no-op tasks on the same broker and the same
worker, in one run. Each round runs the bare tasks, then the jobs, back to back; the ratio
reported is the median of the rounds' own ratios (target: >= 0.75 on 2 cores), which a
machine whose speed drifts between rounds moves less than a ratio of two best rates. Also
prints each round's ratio, both best rates, and the store round trips one job's lifecycle
costs, counted per primitive.

    python -m bench.job_overhead [--jobs 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from bench.overhead_tasks import COUNTER_KEY
from cli.embedded_redis import start_redis
from cli.kinds import load_kinds
from schemas.job import JobStatus
from sluice.celery_app import create_celery_app
from sluice.enqueue import submit
from sluice.logs import configure_logging
from sluice.settings import get_settings, load_settings
from sluice.stores import JobStore, get_store, open_store

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.02


def wait_until(done: object, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish in time")
        time.sleep(POLL_SECONDS)


def succeeded(store: JobStore) -> int:
    """Echo jobs ever succeeded: the store's finished counter, a read as cheap as the
    baseline's counter in Redis (counting the job table would grow with every round)."""
    return store.finished_counts().get(("echo", JobStatus.SUCCEEDED.value), 0)


PRIMITIVES = ("_insert", "get", "get_by_idempotency_key", "_replace", "_count_first_delivery",
              "_find", "count",
              "count_by")


def store_round_trips(values: dict[str, str], jobs: int = 20) -> dict[str, float]:
    """Store primitive calls per job over its whole lifecycle: ``submit`` here, then the
    task run in this process (``apply``: the delivery count, the handler, the outcome and
    the instruments' task signals), as a worker runs it."""
    for key, value in values.items():
        os.environ[f"SLUICE_{key.upper()}"] = value
    get_settings.cache_clear()
    get_store.cache_clear()
    settings = get_settings()
    celery = create_celery_app(settings, load_kinds(settings))
    store = get_store()  # the store the task's run_job uses too
    calls: Counter[str] = Counter()
    for name in PRIMITIVES:
        original = getattr(store, name)

        def counted(*args: object, _name: str = name, _original: Any = original,
                    **kwargs: object) -> Any:
            calls[_name] += 1
            return _original(*args, **kwargs)

        setattr(store, name, counted)
    for index in range(jobs):
        job, _ = submit("echo", {"i": index}, store=store, celery=celery, settings=settings)
        celery.tasks["echo"].apply(args=[job.id], task_id=job.task_id)
        if store.get(job.id).status is not JobStatus.SUCCEEDED:
            raise RuntimeError(f"job {job.id} did not succeed in process")
        calls["get"] -= 1  # the check above is the bench's, not the lifecycle's
    return {name: count / jobs for name, count in calls.items() if count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
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
        trips = store_round_trips({k: str(v) for k, v in values.items()})
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

                before = succeeded(store)
                start = time.perf_counter()
                for index in range(args.jobs):
                    submit("echo", {"i": index}, store=store, celery=celery, settings=settings)
                target = before + args.jobs
                wait_until(lambda t=target: succeeded(store) >= t)
                job_rates.append(args.jobs / (time.perf_counter() - start))
        finally:
            worker.terminate()
            worker.wait(30)
            server.stop()

    bare, jobs = max(bare_rates), max(job_rates)
    ratios = [job / base for base, job in zip(bare_rates, job_rates, strict=True)]
    print(f"bare celery no-op tasks : {bare:8.0f} tasks/s  (best of {args.rounds})")
    print(f"sluice echo jobs        : {jobs:8.0f} jobs/s   (best of {args.rounds})")
    print(f"ratio per round         :    {' '.join(f'{ratio:.2f}' for ratio in ratios)}")
    print(f"ratio jobs/bare         : {statistics.median(ratios):8.2f}   (median of rounds; "
          f"best/best {jobs / bare:.2f}; target >= 0.75)")
    detail = ", ".join(f"{name.lstrip('_')} {count:g}" for name, count in sorted(trips.items()))
    print(f"store round trips / job : {sum(trips.values()):8g}   ({detail})")


if __name__ == "__main__":
    main()
