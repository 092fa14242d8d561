"""One extraction call to the model, and the ledger entry that records it.

:func:`call_model` tries the endpoints in order with the mode each one enforces; all down is
:class:`~sluice.errors.Retryable` (never an attempt), a refusal is a dead letter.
:func:`ledger_entry` is what an attempt or an agreement sample leaves on the job.
"""

from __future__ import annotations

from typing import Any

import structlog

from libs.extraction.output import bounded_raw_output
from libs.llm.call import MessageRedactor
from libs.llm.chat import ChatResult, LLMRejected, LLMUnavailable, chat
from libs.llm.routing import Route
from schemas.attempt import Attempt
from schemas.job import DeadReason
from schemas.registry import SchemaEntry
from sluice.job_task import DeadLetter, JobContext, Retryable
from workers.extraction.probe import StructuredMode, endpoint_mode, response_format
from workers.extraction.prompts import Message, messages_hash, prompt_chars

log = structlog.get_logger(__name__)


def ledger_entry(
    number: int,
    result: ChatResult,
    mode: StructuredMode,
    messages: list[Message],
    max_tokens: int,
    temperature: float,
    route: Route,
    **judged: Any,
) -> Attempt:
    """The ledger's record of one call: what was asked, what came back (as the model wrote
    it: with redaction on, placeholders and all), what it cost, and the route it took."""
    return Attempt(
        number=number,
        route=route.name,
        cached=result.cached,
        endpoint=result.endpoint.base_url,
        model=result.model,
        mode=mode.value,
        messages_hash=messages_hash(messages),
        prompt_chars=prompt_chars(messages),
        max_tokens=max_tokens,
        temperature=temperature,
        latency_ms=round(result.latency_ms, 2),
        raw_text=bounded_raw_output(result.text),  # the verdict saw all of it
        finish_reason=result.finish_reason,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        **judged,
    )


def call_model(
    context: JobContext,
    entry: SchemaEntry,
    schema: dict[str, Any],
    messages: list[Message],
    max_tokens: int,
    temperature: float,
    route: Route,
    *,
    cache: bool = False,
    redaction: MessageRedactor | None = None,
) -> tuple[ChatResult, StructuredMode]:
    """One call, on the first of the route's endpoints that answers; all down ->
    :class:`Retryable`. ``cache`` and ``redaction`` go to :func:`libs.llm.chat.chat`."""
    unavailable: LLMUnavailable | None = None
    for endpoint in route.endpoints:
        try:
            mode = endpoint_mode(context.settings, endpoint)
            result = chat(
                context.settings, endpoint, messages,
                max_tokens=max_tokens, temperature=temperature,
                response_format=response_format(mode, entry.name, schema),
                purpose="extraction", job_id=context.job.id,
                cache=cache, redaction=redaction,
            )
            return result, mode
        except LLMUnavailable as exc:
            log.warning("llm unavailable", endpoint=endpoint.base_url, error=str(exc))
            unavailable = exc
        except LLMRejected as exc:
            raise DeadLetter(
                DeadReason.NON_RETRYABLE, str(exc), error_signature=f"$:http_{exc.status}",
                schema_name=entry.name, schema_version=entry.version,
            ) from None
    assert unavailable is not None
    if context.final_try:  # the kernel gives up on this fault
        context.store.update_fields(
            context.job.id, schema_name=entry.name, schema_version=entry.version,
            error_signature="$:llm_unavailable",
        )
    countdown = unavailable.retry_after
    if countdown is not None:  # a server's Retry-After, within our own backoff ceiling
        countdown = min(max(countdown, 0.0), context.settings.retry_backoff_max_seconds) or None
    raise Retryable(str(unavailable), countdown=countdown)
