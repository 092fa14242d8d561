"""Which HTTP faults are worth trying again: one answer for sinks, the crawler and the LLM.

A fault is *transient* when the same request may succeed later (the server is busy, down
for a deploy, or asks us to slow down) and *permanent* when the request itself is refused
(trying again cannot help, so the job goes to the dead-letter queue at once).

Transient statuses, the usual set (RFC 9110 and the major HTTP clients' retry defaults):
408 Request Timeout, 425 Too Early, 429 Too Many Requests, 500 Internal Server Error,
502 Bad Gateway, 503 Service Unavailable, 504 Gateway Timeout. No answer at all (a
connection refused or reset, a timeout) is transient too.

Chosen where the three earlier tables disagreed: the LLM client's 409 is permanent now (a
conflict is about the request, not the moment), 425 is transient everywhere (the webhook
sink had it alone), and the other 5xx (501 Not Implemented, 505 HTTP Version Not Supported,
...) are permanent: every earlier copy retried them, but they say the server cannot do
this, not that it cannot do it now.
"""

from __future__ import annotations

from enum import StrEnum

import httpx

TRANSIENT_STATUSES: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpFault(StrEnum):
    TRANSIENT = "transient"  # try again later (backoff)
    PERMANENT = "permanent"  # the request is refused: do not try again


def is_transient_status(code: int | None) -> bool:
    """Whether an HTTP status (None: no answer at all) is worth trying again later."""
    return code is None or code in TRANSIENT_STATUSES


def classify(fault: httpx.Response | BaseException) -> HttpFault | None:
    """Sort a response or an exception from an HTTP call; None for a response that is no
    fault (1xx to 3xx).

    Exceptions: transport failures (``httpx.TransportError``, ``OSError``, timeouts) are
    transient; anything carrying a status (``httpx.HTTPStatusError``, an SDK error with an
    integer ``status_code`` such as ``openai.APIStatusError``) goes by its status. Any
    other exception is not an HTTP fault and raises ``TypeError``: a bug to see, not to
    retry.
    """
    if isinstance(fault, httpx.Response):
        return None if fault.status_code < 400 else _by_status(fault.status_code)
    if isinstance(fault, httpx.HTTPStatusError):
        return _by_status(fault.response.status_code)
    status = getattr(fault, "status_code", None)
    if isinstance(status, int):
        return _by_status(status)
    if isinstance(fault, httpx.TransportError | OSError | TimeoutError):
        return HttpFault.TRANSIENT
    raise TypeError(f"not an HTTP fault: {type(fault).__name__}: {fault}")


def _by_status(code: int) -> HttpFault:
    return HttpFault.TRANSIENT if is_transient_status(code) else HttpFault.PERMANENT
