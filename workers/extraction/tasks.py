"""The ``extract`` job kind: attempts until the schema accepts an output, or a dead letter.

Each attempt is appended to the job's ledger before the next starts, so this function is
resumable: a redelivered job (its worker was killed) starts at attempt k+1 and never pays
for a recorded attempt twice; if the last recorded attempt was valid it returns that record
without calling the model. Transport faults raise :class:`Retryable` and leave the ledger
untouched (they are not attempts); a 4xx the endpoint will always refuse is
``dead/non_retryable``.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import current_app
from pydantic import ValidationError

from libs.dead_letter.actions import error_signature
from libs.extraction.output import bounded_raw_output
from libs.llm.chat import ChatResult, Endpoint, LLMRejected, LLMUnavailable, chat, endpoints
from libs.llm.metrics import observe_validation_failure
from libs.sinks.local import deliver_locally
from libs.sinks.push import pending_deliveries, push_to_sinks
from schemas.attempt import Attempt, AttemptOutcome
from schemas.inputs.extract import ExtractInput
from schemas.job import DeadReason, Job
from schemas.registry import SchemaEntry, UnknownSchema, get_schema, load_schemas
from sluice.job_task import DeadLetter, JobContext, Queue, Retryable, job_task
from workers.extraction.budget import Budget, BudgetExceeded, check_next_attempt
from workers.extraction.correction import correction_messages
from workers.extraction.decoding_schema import decoding_schema
from workers.extraction.email_source import (
    SourceDocument,
    UnreadableEmail,
    from_email,
    from_text,
)
from workers.extraction.grounding import grounding_context
from workers.extraction.probe import StructuredMode, endpoint_mode, response_format
from workers.extraction.prompts import (
    Message,
    first_messages,
    fold_system,
    messages_hash,
    prompt_chars,
    system_prompt,
)
from workers.extraction.validation import judge

KIND = "extract"
log = structlog.get_logger(__name__)


@job_task(KIND, queue=Queue.GPU, input_model=ExtractInput)
def extract(context: JobContext) -> dict[str, Any]:
    job = context.job
    request = _request(job.input)
    entry = _schema(context, request)
    document = _document(request)
    attempts = list(job.attempts)
    if attempts and attempts[-1].outcome is AttemptOutcome.VALID and attempts[-1].record:
        # Resumed after the record was found: make sure its deliveries exist, nothing more.
        return _accept(context, entry, attempts[-1].record, noted=False)

    schema = decoding_schema(entry.model)
    first = first_messages(
        system_prompt(entry.name, schema, request.instructions), document, request.reviewer_hint
    )
    validation_context = grounding_context(document)
    budget = Budget.for_job(context.settings, request.budget)
    base_max_tokens = request.max_tokens or context.settings.extract_completion_tokens
    while True:
        try:
            check_next_attempt(budget, attempts, job.started_at)
        except BudgetExceeded as exc:
            raise _dead_letter(exc.reason, str(exc), attempts, entry) from None
        last = attempts[-1] if attempts else None
        messages = first if last is None else correction_messages(first, last, schema)
        if context.settings.llm_system_in_user or context.settings.llm_base_url is None:
            messages = fold_system(messages)  # the local Gemma template drops system turns
        max_tokens = base_max_tokens
        if last is not None and last.outcome is AttemptOutcome.TRUNCATED:
            max_tokens = max(last.max_tokens * 2, base_max_tokens)
        elif last is not None:
            max_tokens = last.max_tokens
        temperature = (
            context.settings.extract_temperature
            if last is None
            else context.settings.extract_retry_temperature
        )
        number = len(attempts) + 1
        with context.step("llm_extraction", attempt=number) as step:
            result, mode = _call(
                context, entry, schema, messages, max_tokens, temperature, request.model
            )
            step.update(
                model=result.model, mode=mode.value,
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            )
        verdict = judge(entry.model, result.text, result.finish_reason, validation_context)
        attempt = Attempt(
            number=number,
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
            outcome=verdict.outcome,
            parse_error=verdict.parse_error,
            errors=verdict.errors,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            record=verdict.record,
        )
        # On record before anything else happens: a kill after this line resumes at k+1.
        _record(context, entry, attempt)
        attempts.append(attempt)
        log.info(
            "extraction attempt", job_id=job.id, attempt=number, outcome=verdict.outcome,
            mode=mode, errors=len(verdict.errors),
        )
        if verdict.record is not None:
            return _accept(context, entry, verdict.record, noted=True)
        observe_validation_failure(
            entry.name,
            error_signature(e.model_dump() for e in verdict.errors) or f"$:{verdict.outcome}",
        )


def _request(raw: dict[str, Any]) -> ExtractInput:
    try:
        return ExtractInput.model_validate(raw)
    except ValidationError as exc:
        raise DeadLetter(DeadReason.INVALID_INPUT, f"extract input: {exc}") from None


def _schema(context: JobContext, request: ExtractInput) -> SchemaEntry:
    load_schemas(context.settings.schemas or None)
    try:
        entry = get_schema(request.schema_name, request.schema_version)
    except UnknownSchema as exc:
        raise DeadLetter(DeadReason.INVALID_INPUT, str(exc)) from None
    return entry


def _record(context: JobContext, entry: SchemaEntry, attempt: Attempt) -> None:
    """One store write per attempt: the attempt, the schema, and for a valid record the
    sink deliveries about to be queued."""
    pending = pending_deliveries(context.settings) if attempt.record is not None else {}

    def change(job: Job) -> Job:
        job.attempts.append(attempt)
        job.schema_name, job.schema_version = entry.name, entry.version
        for sink, state in pending.items():
            job.sink_deliveries.setdefault(sink, state.model_copy())
        return job

    context.job = context.store.mutate(context.job.id, change)


def _document(request: ExtractInput) -> SourceDocument:
    if request.raw_email:
        try:
            return from_email(request.raw_email, received_at=request.message_time)
        except UnreadableEmail as exc:
            raise DeadLetter(DeadReason.INVALID_INPUT, str(exc)) from None
    assert request.text is not None
    return from_text(request.text, received_at=request.message_time)


def _call(
    context: JobContext,
    entry: SchemaEntry,
    schema: dict[str, Any],
    messages: list[Message],
    max_tokens: int,
    temperature: float,
    model: str | None,
) -> tuple[ChatResult, StructuredMode]:
    """One call, on the first endpoint that answers; all down -> :class:`Retryable`."""
    unavailable: LLMUnavailable | None = None
    for endpoint in endpoints(context.settings, model):
        try:
            mode = endpoint_mode(context.settings, endpoint)
            result = chat(
                context.settings, endpoint, messages,
                max_tokens=max_tokens, temperature=temperature,
                response_format=response_format(mode, entry.name, schema),
                purpose="extraction", job_id=context.job.id,
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


def _accept(
    context: JobContext, entry: SchemaEntry, record: dict[str, Any], *, noted: bool
) -> dict[str, Any]:
    job = context.job.model_copy(
        update={"schema_name": entry.name, "schema_version": entry.version}
    )
    # A redelivered job may have written its local sinks before it was killed.
    in_place = deliver_locally(
        context.settings, context.store, job, record,
        maybe_written=not noted or job.deliveries > 1,
    )
    push_to_sinks(
        context.store, current_app, context.settings, job, record, note=not noted, skip=in_place
    )
    return record


def _dead_letter(
    reason: DeadReason, message: str, attempts: list[Attempt], entry: SchemaEntry
) -> DeadLetter:
    failed = [a for a in attempts if a.outcome is not AttemptOutcome.VALID]
    last = failed[-1] if failed else None
    if last is None:
        signature = ""
    elif last.outcome is AttemptOutcome.INVALID:
        signature = error_signature(error.model_dump() for error in last.errors)
    else:
        signature = f"$:{last.outcome.value}"
    return DeadLetter(
        reason, message, error_signature=signature or None,
        schema_name=entry.name, schema_version=entry.version,
    )


__all__ = ["KIND", "Endpoint", "extract"]
