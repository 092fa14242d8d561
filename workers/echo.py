"""The built-in ``echo`` kind: returns its input. For smoke tests and benchmarks."""

from __future__ import annotations

from typing import Any

from sluice.job_task import JobContext, job_task


@job_task("echo")
def echo(context: JobContext) -> dict[str, Any]:
    return context.job.input
