"""The ``extract`` job kind: attempts until the schema accepts an output, or a dead letter.

Each attempt is appended to the job's ledger before the next starts, so this function is
resumable: a redelivered job (its worker was killed) starts at attempt k+1 and never pays
for a recorded attempt twice; if the last recorded attempt was valid it returns that record
without calling the model. Transport faults raise :class:`Retryable` and leave the ledger
untouched (they are not attempts); a 4xx the endpoint will always refuse is
``dead/non_retryable``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import structlog
from celery import current_app
from pydantic import ValidationError

from libs.dead_letter.actions import error_signature
from libs.llm.chat import Endpoint
from libs.llm.metrics import observe_validation_failure
from libs.sinks.local import deliver_locally
from libs.sinks.push import pending_deliveries, push_to_sinks
from schemas.acceptance import AcceptanceVerdict
from schemas.attempt import Attempt, AttemptOutcome
from schemas.inputs.extract import ExtractInput
from schemas.job import DeadReason, Job
from schemas.registry import SchemaEntry, UnknownSchema, get_schema, load_schemas
from sluice.job_task import DeadLetter, JobContext, Queue, job_task
from sluice.settings import Settings
from workers.extraction.acceptance_step import (
    VERIFIED,
    Gate,
    correctable,
    envelope_schema,
    field_errors,
)
from workers.extraction.budget import (
    Budget,
    BudgetExceeded,
    check_next_attempt,
    check_next_sample,
)
from workers.extraction.correction import correction_messages
from workers.extraction.decoding_schema import decoding_schema, with_enums_rotated
from workers.extraction.email_source import (
    MAX_SOURCE_CHARS,
    SourceDocument,
    UnreadableEmail,
    attachments_of,
    from_email,
    from_text,
    with_attachments,
)
from workers.extraction.gateway import JobGateway
from workers.extraction.grounding import grounding_context
from workers.extraction.model_call import call_model, ledger_entry
from workers.extraction.prompts import (
    Message,
    first_messages,
    fold_system,
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
    document = _document(request, context.settings)
    gate = (
        Gate.for_job(entry.model, request, document)
        if context.settings.acceptance == VERIFIED else None
    )
    attempts = list(job.attempts)
    schema = decoding_schema(entry.model)
    fold = context.settings.llm_system_in_user or context.settings.llm_base_url is None

    def prompt(shift: int = 0) -> tuple[list[Message], dict[str, Any]]:
        """The first-attempt messages and the schema they ask for; agreement sample k lists
        each enum's values shifted by k (see ``with_enums_rotated``)."""
        shown = with_enums_rotated(schema, shift) if shift else schema
        asked = envelope_schema(shown, gate.evidence_fields) if gate else shown
        messages = first_messages(
            system_prompt(entry.name, asked, request.instructions, evidence=gate is not None),
            gate.document(document) if gate else with_attachments(document),
            request.reviewer_hint,
        )
        # The local Gemma template drops system turns.
        return (fold_system(messages) if fold else messages), asked

    first, asked = prompt()
    gateway = JobGateway.for_job(
        context, entry, len((gate.document(document) if gate else document).text), request.model
    )
    budget = Budget.for_job(context.settings, request.budget)
    last = _last_attempt(attempts)
    if last is not None and last.outcome is AttemptOutcome.VALID and last.record:
        # Resumed after the record was found: sample (verified mode) or deliver, nothing more.
        if gate is None:
            return _accept(context, entry, last.record, noted=False)
        return _agree(context, entry, gate, attempts, prompt, budget, gateway)

    # Verified mode: the gate checks the source, the schema only what holds anywhere.
    validation_context = (
        {"message_date": document.message_date} if gate else grounding_context(document)
    )
    base_max_tokens = request.max_tokens or context.settings.extract_completion_tokens
    while True:
        try:
            check_next_attempt(budget, attempts, job.started_at)
        except BudgetExceeded as exc:
            raise _dead_letter(exc.reason, str(exc), attempts, entry, gate) from None
        last = _last_attempt(attempts)
        messages = first if last is None else correction_messages(first, last, schema)
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
        route = gateway.route(number)
        with context.step("llm_extraction", attempt=number) as step:
            result, mode = call_model(
                context, entry, asked, messages, max_tokens, temperature, route,
                cache=gateway.may_cache(correction=last is not None),
                redaction=gateway.redactor,
            )
            step.update(
                model=result.model, mode=mode.value, route=route.name, cached=result.cached,
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            )
        verdict = judge(
            entry.model, gateway.restored(result), result.finish_reason, validation_context,
            envelope=gate is not None,
        )
        outcome, errors, record = verdict.outcome, verdict.errors, verdict.record
        checks = gate.verify(record, verdict.evidence) if gate and record is not None else []
        if gate is not None and record is not None:
            if any(not check.ok for check in checks):
                outcome, errors = AttemptOutcome.UNVERIFIED, field_errors(checks)
            else:
                record = gate.spelled(record, checks)
        attempt = ledger_entry(
            number, result, mode, messages, max_tokens, temperature, route,
            outcome=outcome, parse_error=verdict.parse_error, errors=errors, record=record,
            evidence=verdict.evidence,
        )
        # On record before anything else happens: a kill after this line resumes at k+1.
        _record(context, entry, attempt, deliveries=gate is None and record is not None)
        attempts.append(attempt)
        log.info(
            "extraction attempt", job_id=job.id, attempt=number, outcome=outcome,
            mode=mode, errors=len(errors),
        )
        if outcome is AttemptOutcome.VALID and record is not None:
            if gate is None:
                return _accept(context, entry, record, noted=True)
            return _agree(context, entry, gate, attempts, prompt, budget, gateway)
        observe_validation_failure(
            entry.name,
            error_signature(e.model_dump() for e in errors) or f"$:{outcome}",
        )
        if gate is not None and outcome is AttemptOutcome.UNVERIFIED and not correctable(checks):
            refusal = gate.verdict(record or {}, attempt.evidence)
            raise _refused("the record is ambiguous: a person decides", refusal, entry)


def _last_attempt(attempts: list[Attempt]) -> Attempt | None:
    """The last correction attempt (agreement samples are not)."""
    return next((attempt for attempt in reversed(attempts) if not attempt.sample), None)


def _agree(
    context: JobContext,
    entry: SchemaEntry,
    gate: Gate,
    attempts: list[Attempt],
    prompt: Callable[[int], tuple[list[Message], dict[str, Any]]],
    budget: Budget,
    gateway: JobGateway,
) -> dict[str, Any]:
    """Draw the agreement samples the record still needs, then accept it or refuse it.

    Sample k is the first attempt's prompt again, warmer, with each enum's values listed k
    places on; it is on the ledger (as ``sample``) before the next starts, so a redelivered
    job resumes with the samples it has.
    """
    chosen_at = max(index for index, attempt in enumerate(attempts) if not attempt.sample)
    chosen = attempts[chosen_at]
    assert chosen.record is not None
    samples = attempts[chosen_at + 1 :]
    temperature = context.settings.extract_sample_temperature
    while len(samples) + 1 < gate.samples_needed:
        try:
            check_next_sample(budget, attempts, context.job.started_at)
        except BudgetExceeded as exc:
            verdict = gate.verdict(chosen.record, chosen.evidence, _sampled(samples))
            raise _refused(str(exc), verdict, entry, reason=exc.reason) from None
        number = len(attempts) + 1
        messages, asked = prompt(len(samples) + 1)
        # A sample asks what the chosen attempt asked: the same route.
        route = gateway.route(chosen.number)
        with context.step("llm_sample", attempt=number) as step:
            result, mode = call_model(
                context, entry, asked, messages, chosen.max_tokens, temperature, route,
                redaction=gateway.redactor,
            )
            step.update(prompt_tokens=result.prompt_tokens, route=route.name,
                        completion_tokens=result.completion_tokens)
        judged = judge(
            entry.model, gateway.restored(result), result.finish_reason, {}, envelope=True
        )
        sample = ledger_entry(
            number, result, mode, messages, chosen.max_tokens, temperature, route,
            outcome=judged.outcome, parse_error=judged.parse_error, errors=judged.errors,
            record=judged.record, evidence=judged.evidence, sample=True,
        )
        _record(context, entry, sample, deliveries=False)
        attempts.append(sample)
        samples.append(sample)
    verdict = gate.verdict(chosen.record, chosen.evidence, _sampled(samples))
    if not verdict.accepted or verdict.record is None:
        raise _refused("the samples do not agree: a person decides", verdict, entry)
    pending = pending_deliveries(context.settings)

    def change(job: Job) -> Job:
        job.acceptance = verdict
        for sink, state in pending.items():
            job.sink_deliveries.setdefault(sink, state)
        return job

    context.job = context.store.mutate(context.job.id, change)
    return _accept(context, entry, verdict.record, noted=True)


def _sampled(samples: list[Attempt]) -> list[dict[str, Any] | None]:
    return [s.record if s.outcome is AttemptOutcome.VALID else None for s in samples]


def _refused(
    message: str,
    verdict: AcceptanceVerdict,
    entry: SchemaEntry,
    *,
    reason: DeadReason = DeadReason.UNVERIFIED,
) -> DeadLetter:
    """A schema-valid record the gate did not accept: to review, with the failed checks."""
    signature = error_signature(e.model_dump() for e in field_errors(verdict.failed))
    return DeadLetter(
        reason, message, error_signature=signature or None, acceptance=verdict,
        schema_name=entry.name, schema_version=entry.version,
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


def _record(
    context: JobContext, entry: SchemaEntry, attempt: Attempt, *, deliveries: bool
) -> None:
    """One store write per attempt: the attempt, the schema, and for an accepted record the
    sink deliveries about to be queued."""
    pending = pending_deliveries(context.settings) if deliveries else {}

    def change(job: Job) -> Job:
        job.attempts.append(attempt)
        job.schema_name, job.schema_version = entry.name, entry.version
        for sink, state in pending.items():
            job.sink_deliveries.setdefault(sink, state.model_copy())
        return job

    context.job = context.store.mutate(context.job.id, change)


def _document(request: ExtractInput, settings: Settings) -> SourceDocument:
    if request.raw_email:
        try:
            document = from_email(request.raw_email, received_at=request.message_time)
        except UnreadableEmail as exc:
            raise DeadLetter(DeadReason.INVALID_INPUT, str(exc)) from None
        return dataclasses.replace(
            document, attachments=attachments_of(request.raw_email, settings))
    assert request.text is not None
    document = from_text(request.text, received_at=request.message_time)
    attached = tuple((item.filename, item.text[:MAX_SOURCE_CHARS])
                     for item in request.attachments if item.text)
    return dataclasses.replace(document, attachments=attached)


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
    reason: DeadReason,
    message: str,
    attempts: list[Attempt],
    entry: SchemaEntry,
    gate: Gate | None,
) -> DeadLetter:
    failed = [a for a in attempts if a.outcome is not AttemptOutcome.VALID and not a.sample]
    last = failed[-1] if failed else None
    if gate is not None and last is not None and last.outcome is AttemptOutcome.UNVERIFIED:
        # Valid, but no attempt verified: that is for a person, whatever stopped the loop.
        verdict = gate.verdict(last.record or {}, last.evidence)
        return _refused(f"{message}; the last record did not verify", verdict, entry)
    if last is None:
        signature = ""
    elif last.outcome is AttemptOutcome.INVALID:
        signature = error_signature(error.model_dump() for error in last.errors)
    else:
        signature = f"$:{last.outcome.value}"
    extra = {"acceptance": gate.unverified()} if gate is not None else {}
    return DeadLetter(
        reason, message, error_signature=signature or None,
        schema_name=entry.name, schema_version=entry.version, **extra,
    )


__all__ = ["KIND", "Endpoint", "extract"]
