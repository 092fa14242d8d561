"""The built-in ``echo`` kind: returns its input. For smoke tests and benchmarks."""

from __future__ import annotations

from typing import Any

from schemas.inputs.system import EchoInput
from sluice.job_task import JobContext, Queue, job_task


@job_task("echo", queue=Queue.CPU, input_model=EchoInput)
def echo(context: JobContext) -> dict[str, Any]:
    return context.job.input
