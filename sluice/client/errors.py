"""The API's error answers as named exceptions, each carrying the problem details.

The body is read as RFC 9457 problem details (``type``, ``title``, ``status``, ``detail``,
``errors``) and, for servers that answer FastAPI's ``{"detail": ...}``, from that shape:
a list there is pydantic's field errors, a mapping (a 502 or 504 of ``/v1/ask``) is kept as
``extra``. Callers catch the class they act on (``JobNotFound``, ``RateLimited``) or
:class:`SluiceError` for any of them.
"""

from __future__ import annotations

from typing import Any

import httpx


class SluiceError(Exception):
    """An error answer from the Sluice API (or, for :class:`StreamBroken`, its absence)."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status}: {detail}" if status else detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []  # field errors: {"loc": [...], "msg": ..., "type": ...}
        self.extra = extra or {}  # any other member of the problem details


class InvalidRequest(SluiceError):
    """400, 413 or 422: the request itself is wrong; ``errors`` names the fields."""


class Unauthorized(SluiceError):
    """401: no key, or not a bearer token."""


class Forbidden(SluiceError):
    """403: the key is unknown or lacks the scope."""


class NotFound(SluiceError):
    """404: no such object (or one this key's tenant may not see)."""


class JobNotFound(NotFound):
    """404 on a job or dead letter."""


class DocumentNotFound(NotFound):
    """404 on a document."""


class Conflict(SluiceError):
    """409: the idempotency key names another request, or the job is in the wrong state."""


class RateLimited(SluiceError):
    """429: too many submissions; ``retry_after`` seconds is when to try again."""

    def __init__(self, detail: str, *, retry_after: float | None = None, **fields: Any) -> None:
        super().__init__(detail, **fields)
        self.retry_after = retry_after


class ServerError(SluiceError):
    """5xx: the server failed, or (502, 504) the job behind a search or answer did."""


class AnswerFailed(SluiceError):
    """A streamed answer ended with ``error``: its job was dead-lettered."""


class WaitTimedOut(SluiceError):
    """``wait`` gave up before the job settled; ``job_id`` and the last event seen are kept."""

    def __init__(self, detail: str, *, job_id: str, last_status: str | None) -> None:
        super().__init__(detail)
        self.job_id = job_id
        self.last_status = last_status


class StreamBroken(SluiceError):
    """A stream kept breaking: the reconnects allowed are used up."""


_BY_STATUS: dict[int, type[SluiceError]] = {
    400: InvalidRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: InvalidRequest, 422: InvalidRequest, 429: RateLimited,
}


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text or response.reason_phrase}
    return body if isinstance(body, dict) else {"detail": body}


def _field_errors(detail: list[Any]) -> list[dict[str, Any]]:
    return [error if isinstance(error, dict) else {"msg": str(error)} for error in detail]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def error_for(response: httpx.Response, not_found: type[NotFound] = NotFound) -> SluiceError:
    """The exception for an error ``response`` (its body already read)."""
    problem = _problem(response)
    raw = problem.pop("detail", None)
    errors = _field_errors(problem.pop("errors", None) or [])
    extra: dict[str, Any] = {}
    if isinstance(raw, list):
        errors = errors or _field_errors(raw)
        detail = "; ".join(str(error.get("msg", error)) for error in errors)
    elif isinstance(raw, dict):
        extra = dict(raw)
        detail = str(raw.get("error") or raw)
    else:
        detail = str(raw) if raw is not None else response.reason_phrase
    title = problem.pop("title", None)
    problem.pop("status", None)
    extra = {**problem, **extra}
    fields: dict[str, Any] = {
        "status": response.status_code, "title": title, "errors": errors, "extra": extra,
    }
    code = response.status_code
    if code == 429:
        return RateLimited(detail, retry_after=_retry_after(response), **fields)
    if code == 404:
        return not_found(detail, **fields)
    if code >= 500:
        return ServerError(detail, **fields)
    return _BY_STATUS.get(code, SluiceError)(detail, **fields)
