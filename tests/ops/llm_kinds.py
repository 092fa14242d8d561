"""A test-only job kind that calls the LLM through the one chat call site, in a loop."""

from __future__ import annotations

import os
from typing import Any

from libs.llm.chat import LLMUnavailable, chat, endpoints
from sluice.job_task import JobContext, Retryable, job_task

KINDS = {"test.llm_calls": "gpu"}


@job_task("test.llm_calls")
def llm_calls(context: JobContext) -> dict[str, Any]:
    """Make ``calls`` chat calls; each message names this process, so a test can tell
    which worker made it."""
    endpoint = endpoints(context.settings)[0]
    tokens = 0
    for index in range(int(context.job.input.get("calls", 1))):
        try:
            result = chat(
                context.settings, endpoint,
                [{"role": "user", "content": f"pid={os.getpid()} call={index}"}],
                max_tokens=16, job_id=context.job.id,
            )
        except LLMUnavailable as exc:
            raise Retryable(str(exc)) from exc
        tokens += result.prompt_tokens + result.completion_tokens
    return {"tokens": tokens}
