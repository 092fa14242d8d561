"""The streamed chat completion: every token goes to ``on_token`` as it arrives.

It shares endpoints, hooks, the budget check and the sorting of faults with the plain call
(:mod:`libs.llm.call`). Endpoint fallback is decided by one line: the first token.
Before it, nothing has been handed to anyone, so a transient fault (connection refused, a
timeout, 429, 5xx, a stream that dies empty) moves on to the next endpoint in
``SLUICE_LLM_FALLBACK_URLS``. After it, part of an answer is already out; finishing it from
another endpoint would splice two different answers together, so the fault is
:class:`StreamBroken`, a transient fault for the job, which retries it from the start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import structlog
from openai.types.chat import ChatCompletionMessageParam
from openai.types.completion_usage import CompletionUsage

from libs.llm import cache as llm_cache
from libs.llm import openai_client
from libs.llm.call import (
    CLIENT_ERRORS,
    ChatCall,
    Endpoint,
    LLMUnavailable,
    MessageRedactor,
    before_call,
    endpoints,
    fault,
)
from sluice.settings import Settings

log = structlog.get_logger(__name__)

TokenSink = Callable[[str], object]


@dataclass(frozen=True)
class StreamedCompletion:
    endpoint: Endpoint
    text: str
    model: str
    finish_reason: str | None
    # None when the endpoint did not report usage (no ``stream_options`` support).
    prompt_tokens: int | None
    completion_tokens: int
    first_token_ms: float | None
    duration_ms: float
    # Answered from the response cache (one piece, no tokens charged).
    cached: bool = False


class StreamBroken(LLMUnavailable):
    """The stream failed after its first token: the job retries the whole answer; no
    other endpoint is asked to finish it."""


def stream_chat(
    settings: Settings,
    messages: list[dict[str, str]],
    on_token: TokenSink,
    *,
    max_tokens: int,
    temperature: float,
    purpose: str = "generation",
    job_id: str | None = None,
    model: str | None = None,
    route: list[Endpoint] | None = None,
    cache: bool = False,
    redaction: MessageRedactor | None = None,
) -> StreamedCompletion:
    """Stream one answer from the first endpoint that starts one.

    ``route`` replaces the configured endpoints (:mod:`libs.llm.routing`); ``cache`` and
    ``redaction`` are as for :func:`libs.llm.chat.chat` (a cached answer arrives as one
    piece; tokens arrive as the model wrote them: a caller restores values in its sink).

    Raises :class:`LLMUnavailable` (a ``Retryable``) when every endpoint failed before its
    first token, :class:`StreamBroken` when one failed after it, and
    :class:`~libs.llm.call.LLMRejected` (a ``DeadLetter``) when one refused the request.
    A waiting ``Retryable`` from the budget or kill switch stops the fallback at once.
    """
    if redaction is not None:
        messages = redaction.redact_messages(messages)
    unavailable: LLMUnavailable | None = None
    for endpoint in route or endpoints(settings, model):
        key = None
        if llm_cache.cacheable(settings, temperature, cache):
            key = llm_cache.cache_key(
                endpoint.base_url, endpoint.model, messages, response_format=None,
                max_tokens=max_tokens, temperature=temperature, stream=True,
            )
            hit = llm_cache.lookup(settings, key)
            if hit is not None:
                on_token(hit.text)
                return StreamedCompletion(
                    endpoint=endpoint, text=hit.text, model=hit.model,
                    finish_reason=hit.finish_reason, prompt_tokens=0, completion_tokens=0,
                    first_token_ms=0.0, duration_ms=0.0, cached=True,
                )
        try:
            completion = _stream_from(
                settings, endpoint, messages, on_token, max_tokens=max_tokens,
                temperature=temperature, purpose=purpose, job_id=job_id,
            )
        except StreamBroken:
            raise
        except LLMUnavailable as exc:
            log.warning("llm unavailable before the first token", endpoint=endpoint.base_url,
                        error=str(exc))
            unavailable = exc
            continue
        if key is not None:
            llm_cache.store(settings, key, llm_cache.CachedAnswer(
                model=completion.model, text=completion.text,
                finish_reason=completion.finish_reason,
                prompt_tokens=completion.prompt_tokens or 0,
                completion_tokens=completion.completion_tokens,
            ))
        return completion
    assert unavailable is not None  # endpoints() always names at least one
    raise unavailable


def _stream_from(
    settings: Settings,
    endpoint: Endpoint,
    messages: list[dict[str, str]],
    on_token: TokenSink,
    *,
    max_tokens: int,
    temperature: float,
    purpose: str,
    job_id: str | None,
) -> StreamedCompletion:
    spend = before_call(
        settings, ChatCall(endpoint, purpose, job_id, max_tokens, messages, stream=True)
    )
    start = time.perf_counter()
    first_token_ms: float | None = None
    pieces: list[str] = []
    finish_reason: str | None = None
    usage: CompletionUsage | None = None
    try:
        stream = openai_client(settings, endpoint.base_url).chat.completions.create(
            model=endpoint.model,
            messages=cast("list[ChatCompletionMessageParam]", messages),
            max_tokens=max_tokens,
            temperature=temperature,
            stream=True,
            stream_options={"include_usage": True},
        )
        with stream:  # the client is shared: give its connection back however this ends
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
                    token = choice.delta.content if choice.delta else None
                    if token:
                        if first_token_ms is None:
                            first_token_ms = (time.perf_counter() - start) * 1000
                        pieces.append(token)
                        on_token(token)
    except CLIENT_ERRORS as exc:
        failure = fault(endpoint, exc)
        if first_token_ms is None:
            raise failure from exc
        # The tokens were generated and paid for, whatever became of the answer.
        spend.charge(prompt_tokens=spend.estimated_tokens, completion_tokens=len(pieces))
        raise StreamBroken(
            endpoint, f"the stream broke after {len(pieces)} tokens: {exc}",
            status=failure.status,
        ) from exc
    prompt_tokens = usage.prompt_tokens if usage else None
    completion_tokens = (usage.completion_tokens if usage else None) or len(pieces)
    spend.charge(prompt_tokens=prompt_tokens or spend.estimated_tokens,
                 completion_tokens=completion_tokens)
    return StreamedCompletion(
        endpoint=endpoint,
        text="".join(pieces),
        model=endpoint.model,
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        first_token_ms=first_token_ms,
        duration_ms=(time.perf_counter() - start) * 1000,
    )
