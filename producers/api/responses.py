"""The error answers each route declares in the OpenAPI, so the schema tells the truth.

Every error body is FastAPI's ``{"detail": ...}``: a sentence, or for 422 pydantic's list
of field errors (``loc``, ``msg``, ``type``). A schemathesis run over the live API checks
that every status a route answers is one it declares (``tests/producers/test_api_fuzz.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    detail: str | list[FieldError] | dict[str, Any]


_MEANING = {
    400: "A body that is not JSON, or a malformed cursor or Last-Event-ID.",
    401: "No bearer key.",
    403: "The key is unknown, or lacks the scope this route needs.",
    404: "No such object in the caller's tenant.",
    409: "The object changed or is in a state that refuses this action.",
    413: "The request body is larger than SLUICE_MAX_REQUEST_BYTES.",
    422: "The request does not validate; field errors in `detail`.",
    429: "Over the key's submission rate; see Retry-After.",
    502: "The model endpoint failed the job.",
    503: "A dependency (broker, store) is unreachable.",
    504: "No answer within the wait; poll the job.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router or route: each code with its meaning and body."""
    return {code: {"model": ErrorBody, "description": _MEANING[code]} for code in codes}


AUTHENTICATED = (401, 403, 422)
