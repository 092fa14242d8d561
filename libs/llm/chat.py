"""The plain (non-streaming) chat completion: every such LLM call goes through :func:`chat`.

It times the call and reads this call's own token usage. A caller may pass a redactor
(personal data out of the messages before anything else sees them) and allow the response
cache (:mod:`libs.llm.cache`: temperature 0 only; a hit costs no tokens and no budget, and
says ``cached``). Endpoints, the hooks and budget
check before a call and the sorting of faults are shared with the streamed call and live
in :mod:`libs.llm.call`; the names are re-exported here for the callers that use them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from libs.llm import cache as llm_cache
from libs.llm import openai_client
from libs.llm.call import (
    BEFORE_CALL,
    CLIENT_ERRORS,
    BeforeCall,
    ChatCall,
    Endpoint,
    LLMRejected,
    LLMUnavailable,
    MessageRedactor,
    before_call,
    endpoints,
    fault,
)
from sluice.settings import Settings

__all__ = [
    "BEFORE_CALL", "BeforeCall", "ChatCall", "ChatResult", "Endpoint", "LLMRejected",
    "LLMUnavailable", "chat", "endpoints",
]


@dataclass(frozen=True)
class ChatResult:
    endpoint: Endpoint
    # The model that answered, as the endpoint reports it (aliases resolved).
    model: str
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    # Answered from the response cache: no call was made and no token was charged.
    cached: bool = False


def chat(
    settings: Settings,
    endpoint: Endpoint,
    messages: list[dict[str, str]],
    *,
    max_tokens: int,
    temperature: float = 0.0,
    response_format: dict[str, Any] | None = None,
    purpose: str = "chat",
    job_id: str | None = None,
    cache: bool = False,
    redaction: MessageRedactor | None = None,
) -> ChatResult:
    """One chat completion on ``endpoint``; raises :class:`LLMUnavailable` or
    :class:`LLMRejected`. Trying the next endpoint is the caller's choice: extraction's
    mode depends on which endpoint answers.

    ``redaction`` rewrites the messages first; the answer comes back as the model wrote it
    (placeholders and all): restoring values is the caller's, who knows where they belong.
    ``cache`` allows the response cache for this call (it still needs ``SLUICE_LLM_CACHE``
    and temperature 0).
    """
    if redaction is not None:
        messages = redaction.redact_messages(messages)
    started = time.perf_counter()
    key = None
    if llm_cache.cacheable(settings, temperature, cache):
        key = llm_cache.cache_key(
            endpoint.base_url, endpoint.model, messages, response_format=response_format,
            max_tokens=max_tokens, temperature=temperature,
        )
        hit = llm_cache.lookup(settings, key)
        if hit is not None:
            return ChatResult(
                endpoint=endpoint, model=hit.model, text=hit.text,
                finish_reason=hit.finish_reason, prompt_tokens=0, completion_tokens=0,
                latency_ms=(time.perf_counter() - started) * 1000, cached=True,
            )
    spend = before_call(settings, ChatCall(endpoint, purpose, job_id, max_tokens, messages))
    options: dict[str, Any] = {}
    if response_format is not None:
        options["response_format"] = response_format
    started = time.perf_counter()
    try:
        completion = openai_client(settings, endpoint.base_url).chat.completions.create(
            model=endpoint.model,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=max_tokens,
            temperature=temperature,
            **options,
        )
    except CLIENT_ERRORS as exc:
        raise fault(endpoint, exc) from exc
    latency_ms = (time.perf_counter() - started) * 1000
    if not completion.choices:
        raise LLMUnavailable(endpoint, "the completion has no choices")
    choice = completion.choices[0]
    usage = completion.usage
    if usage is not None:
        spend.charge(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens)
    result = ChatResult(
        endpoint=endpoint,
        model=completion.model or endpoint.model,
        text=choice.message.content or "",
        finish_reason=choice.finish_reason,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        latency_ms=latency_ms,
    )
    if key is not None:
        llm_cache.store(settings, key, llm_cache.CachedAnswer(
            model=result.model, text=result.text, finish_reason=result.finish_reason,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
        ))
    return result
