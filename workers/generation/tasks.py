"""The ``ask`` job (``gpu`` queue): retrieve, prompt, stream the answer token by token.

Every event goes to the job's token stream (:mod:`libs.llm.token_stream`) as it happens, so an
API process can relay it as server-sent events; the final answer, its sources and usage are
also the job's result, for callers that just wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import workers.embedding  # noqa: F401  needs the embedding extra: without it, no ask kind
from libs.llm.routing import route_for
from libs.llm.stream import stream_chat
from libs.llm.token_stream import TokenStreamWriter
from libs.redaction import RedactionUnavailable, redactor_for
from schemas.inputs.retrieval import AskInput
from schemas.job import DeadReason, utcnow
from sluice.broker_redis import broker_redis
from sluice.job_task import DeadLetter, JobContext, Queue, Retryable, job_task
from workers.generation.prompt import PROMPT_VERSION, render, source_list

if TYPE_CHECKING:  # Presidio is imported only where a policy applies
    from libs.redaction.redactor import Redactor


@job_task("ask", queue=Queue.GPU, input_model=AskInput)
def ask(context: JobContext) -> dict[str, Any]:
    from workers.retrieval.pipeline import retrieve  # Qdrant's client: in the worker only

    settings = context.settings
    job = context.job
    question = str(job.input.get("question", ""))
    k = int(job.input.get("k") or settings.retrieval_k)
    source = job.input.get("source")
    stream = TokenStreamWriter(broker_redis(settings), job.id, settings.token_stream_ttl_seconds)
    try:
        if stream.length():  # an earlier run streamed part of an answer
            stream.append("reset", {"delivery": job.deliveries, "retries": context.retries})
        found = retrieve(context, question, k, source)
        hits = found.hits
        sources = source_list(hits)
        stream.append("sources", {"sources": sources, "prompt_version": PROMPT_VERSION})
        with context.step("prompt", version=PROMPT_VERSION) as attrs:
            messages = render(question, hits)
            attrs["chars"] = sum(len(message["content"]) for message in messages)
        route = route_for(settings, kind="ask", input_chars=attrs["chars"])
        redactor = _redactor(context)

        def on_token(token: str) -> None:
            stream.append("token", {"text": token})

        # With redaction the model writes placeholders; the client reads the real values.
        restorer = redactor.restoring(on_token) if redactor else None
        with context.step("llm_generation", model=settings.llm_model, route=route.name) as attrs:
            completion = stream_chat(
                settings, messages, restorer or on_token,
                max_tokens=settings.ask_max_tokens, temperature=settings.ask_temperature,
                purpose="generation", job_id=job.id, route=route.endpoints, cache=True,
                redaction=redactor,
            )
            if restorer:
                restorer.flush()
            answer = redactor.restore(completion.text) if redactor else completion.text
            attrs.update(
                model=completion.model,
                cached=completion.cached,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                sources=len(hits),
                first_token_ms=completion.first_token_ms,
                finish_reason=completion.finish_reason,
            )
        usage = {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
        }
        stream.append("done", {
            "trace_id": job.id,
            **usage,
            "total_ms": (utcnow() - job.created_at).total_seconds() * 1000,
            "finish_reason": completion.finish_reason,
        })
        return {
            "answer": answer,
            "sources": sources,
            "prompt_version": PROMPT_VERSION,
            "model": completion.model,
            "usage": usage,
            **found.summary(),
        }
    except Retryable as exc:
        stream.append("retrying", {"error": str(exc)})
        raise
    except DeadLetter as exc:
        stream.append("error", {"reason": exc.reason.value, "error": str(exc)})
        raise
    except Exception as exc:
        stream.append("error", {"reason": "non_retryable", "error": f"{type(exc).__name__}: {exc}"})
        raise


def _redactor(context: JobContext) -> Redactor | None:
    """The ``ask`` kind's redactor (SLUICE_REDACTION's ``ask`` policy), or None."""
    try:
        return redactor_for(context.settings, schema_name=None, kind="ask")
    except RedactionUnavailable as exc:
        raise DeadLetter(DeadReason.NON_RETRYABLE, str(exc)) from None
