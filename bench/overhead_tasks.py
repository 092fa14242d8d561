"""The baseline for bench/job_overhead.py: a bare Celery task, no store, no job record."""

from __future__ import annotations

from celery import shared_task

from sluice.broker_redis import broker_redis
from sluice.settings import get_settings

KINDS: dict[str, str] = {}  # a plugin of tasks only: nothing here is a job kind
COUNTER_KEY = "bench:noop:done"


@shared_task(name="bench.noop", acks_late=True, ignore_result=True)
def noop() -> None:
    broker_redis(get_settings()).incr(COUNTER_KEY)
