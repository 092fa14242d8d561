"""What every LLM call shares, plain or streamed: which endpoints to try and in what order,
what runs before a call (hooks, the budget and kill switch), and how faults are sorted.

Faults come in the two kinds a job must treat differently, and each already is the
kernel's signal for it: :class:`LLMUnavailable` is a :class:`~sluice.job_task.Retryable`
(timeouts, connection errors, the transient statuses of :mod:`libs.http_faults`: try later
through Celery's backoff, never counted as an attempt) and :class:`LLMRejected` is a
:class:`~sluice.job_task.DeadLetter` (any other status: the request itself is wrong, so
trying again cannot help). A caller that
wants a different policy (another endpoint, its own error signature) catches them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
import openai

from libs.http_faults import is_transient_status
from libs.llm import budget as llm_budget
from libs.llm import llm_base_url
from schemas.job import DeadReason
from sluice.job_task import DeadLetter, Retryable
from sluice.settings import Settings
from sluice.settings.llm import fallback_urls


@dataclass(frozen=True)
class Endpoint:
    """One OpenAI-compatible server and the model asked for on it."""

    base_url: str
    model: str


@dataclass(frozen=True)
class ChatCall:
    """What is about to be sent; hooks in :data:`BEFORE_CALL` see this."""

    endpoint: Endpoint
    purpose: str
    job_id: str | None
    max_tokens: int
    messages: list[dict[str, str]]
    stream: bool = False


class LLMUnavailable(Retryable):
    """A transient fault: the endpoint did not answer usefully now; try again later."""

    def __init__(
        self,
        endpoint: Endpoint,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{endpoint.base_url}: {message}")
        self.endpoint = endpoint
        self.status = status  # None: no HTTP answer at all (connection error, timeout)
        self.retry_after = retry_after


class LLMRejected(DeadLetter):
    """The endpoint refused the request (a status that is not transient): retrying cannot help."""

    def __init__(self, endpoint: Endpoint, status: int, message: str) -> None:
        super().__init__(DeadReason.NON_RETRYABLE, f"{endpoint.base_url}: HTTP {status}: {message}")
        self.endpoint = endpoint
        self.status = status


class MessageRedactor(Protocol):
    """Replaces personal data in outgoing messages by placeholders (:mod:`libs.redaction`).

    Applied by the call itself, before the hooks, the cache key, the budget estimate and
    the request: nothing after it sees the real values."""

    def redact_messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]: ...


BeforeCall = Callable[[Settings, ChatCall], None]
# Run in order before every call, plain or streamed; raising stops the call.
BEFORE_CALL: list[BeforeCall] = []


def endpoints(settings: Settings, model: str | None = None) -> list[Endpoint]:
    """The configured endpoint, then ``SLUICE_LLM_FALLBACK_URLS`` in order."""
    urls = [llm_base_url(settings)]
    urls += fallback_urls(settings.llm_fallback_urls)
    name = model or settings.llm_model
    return [Endpoint(url.rstrip("/"), name) for url in dict.fromkeys(urls)]


def before_call(settings: Settings, call: ChatCall) -> llm_budget.Reservation:
    """Run the hooks, then the fleet's kill switch and budgets (a waiting ``Retryable``
    when closed); the reservation is charged with the real usage after the call."""
    for hook in BEFORE_CALL:
        hook(settings, call)
    return llm_budget.reserve(
        settings, model=call.endpoint.model,
        api_key_id=llm_budget.api_key_of_job(call.job_id),
        estimated_tokens=llm_budget.estimate_tokens(call.messages),
    )


def fault(endpoint: Endpoint, exc: Exception) -> LLMUnavailable | LLMRejected:
    """Sort a failure of the ``openai`` client (or of the socket under a stream) into the
    two kinds; anything not recognised here is a bug and is left to propagate."""
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if is_transient_status(status):
            return LLMUnavailable(
                endpoint, f"HTTP {status}: {_message(exc)}", status=status,
                retry_after=_retry_after(exc),
            )
        return LLMRejected(endpoint, status, _message(exc))
    # APIConnectionError includes timeouts; a bare APIError is an error event inside a
    # stream; httpx's transport errors are a stream's socket failing mid-read.
    return LLMUnavailable(endpoint, f"{type(exc).__name__}: {exc}")


# What :func:`fault` sorts; catch exactly these around a call.
CLIENT_ERRORS: tuple[type[Exception], ...] = (openai.APIError, httpx.TransportError)


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
    return str(exc.message)[:500]


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
