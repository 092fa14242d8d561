"""Job kinds that exist only for the kernel tests, loaded as a plugin (SLUICE_PLUGINS).

Each kind is declared here, beside its code: adding a kind is this one file (plus, for a
kind with a typed input, its model in ``schemas/inputs``). ``tests.support.vector_probe``
still uses the older ``KINDS`` dict, which keeps working.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from sluice.job_task import JobContext, Queue, Retryable, job_task

BLOCK_TIMEOUT_SECONDS = 60.0


@job_task("test.block", queue=Queue.CPU)
def block(context: JobContext) -> dict[str, Any]:
    """Hold the job running until the file ``release`` exists; log each completion."""
    release = Path(context.job.input["release"])
    deadline = time.monotonic() + BLOCK_TIMEOUT_SECONDS
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    with Path(context.job.input["completions"]).open("a") as log:
        log.write(f"{context.job.id} delivery={context.job.deliveries}\n")
    return {"completed_on_delivery": context.job.deliveries}


@job_task("test.crash", queue=Queue.CPU)
def crash(context: JobContext) -> None:
    """Die the way an OOM kill or a segfault does: no exception, no cleanup."""
    os.kill(os.getpid(), signal.SIGKILL)


@job_task("test.flaky", queue=Queue.IO)
def flaky(context: JobContext) -> dict[str, Any]:
    """Fail transiently ``failures`` times, then succeed."""
    if context.retries < context.job.input.get("failures", 0):
        raise Retryable(f"transient fault #{context.retries + 1}")
    return {"retries": context.retries}


@job_task("test.stubborn", queue=Queue.CPU)
def stubborn(context: JobContext) -> None:
    """Ignore the soft time limit, as code stuck in a C call or swallowing exceptions does."""
    deadline = time.monotonic() + BLOCK_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(SoftTimeLimitExceeded):
            time.sleep(0.05)


@job_task("test.sleep", queue=Queue.CPU)
def sleep(context: JobContext) -> dict[str, Any]:
    """Take ``seconds`` of a worker's time, as a batch job does: the priority tests' load."""
    time.sleep(float(context.job.input.get("seconds", 0.1)))
    return {"slept": context.job.input.get("seconds", 0.1)}


class StoreUnreachable(ConnectionError):
    """What the job store raises here while "an election" is under way."""


@job_task("test.election_at_success", queue=Queue.IO)
def election_at_success(context: JobContext) -> dict[str, Any]:
    """Succeed; on the first delivery the worker's store is made to fail its next
    ``succeeded`` write as MongoDB does while the primary steps down (a fault the store
    reports as unavailability), in this worker process only."""
    store = context.store
    if context.job.deliveries == 1:
        replace = store._replace

        def failing_once(job: Any, expected_version: int) -> bool:
            if job.status == "succeeded":
                store._replace = replace  # type: ignore[method-assign]
                raise StoreUnreachable("primary stepped down")
            return replace(job, expected_version)

        store._replace = failing_once  # type: ignore[method-assign]
        store.is_unavailable = (  # type: ignore[method-assign]
            lambda error: isinstance(error, StoreUnreachable))
    return {"delivery": context.job.deliveries}
