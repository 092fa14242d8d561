"""Every error the API answers is RFC 9457 problem details, and each route declares its own.

One shape for every 4xx and 5xx, ``application/problem+json``: ``type`` (``about:blank``),
``title`` (the status's phrase), ``status``, ``detail`` (a sentence), and for 422 ``errors``,
pydantic's field errors (``loc``, ``msg``, ``type``). :func:`install_problem_handlers` turns
FastAPI's and our own ``HTTPException``\\s into it; :func:`errors` is what a router or route
passes as ``responses=``, so the OpenAPI names each status with its meaning. A schemathesis
run over the live API checks that every status a route answers is one it declares
(``tests/producers/test_api_fuzz.py``), and ``tests/producers/test_api_openapi.py`` that
the spec is complete.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import StreamingResponse

from sluice.errors import UnstorableValue

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


_MEANING = {
    400: "A body that is not JSON, or a malformed cursor or Last-Event-ID.",
    401: "No bearer key.",
    403: "The key is unknown, or lacks the scope this route needs.",
    404: "No such object in the caller's tenant.",
    409: "The object changed or is in a state that refuses this action.",
    413: "The request body is larger than SLUICE_MAX_REQUEST_BYTES (an uploaded file: "
         "SLUICE_FILES_MAX_BYTES).",
    415: "An uploaded file that is not a PDF, a DOCX, or UTF-8 text.",
    422: "The request does not validate; field errors in `errors`.",
    429: "Over the key's submission rate or open-stream cap; see Retry-After.",
    501: "This API process was built without the part the route needs (erasure: run it "
         "with `sluice api`).",
    502: "The model endpoint failed the job.",
    503: "A dependency (broker, store) is unreachable.",
    504: "No answer within the wait; poll the job.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a router or route: each code with its meaning, as a problem."""
    return {
        code: {
            "description": _MEANING[code],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


AUTHENTICATED = (401, 403, 422)


class EventStream(StreamingResponse):
    """A server-sent-event stream; the OpenAPI documents it as ``text/event-stream``."""

    media_type = "text/event-stream"


def problem(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """The problem-details answer for ``status``; a list ``detail`` is field errors."""
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase,
                            "status": status}
    if isinstance(detail, list):
        body["detail"] = _MEANING.get(status, HTTPStatus(status).description)
        body["errors"] = [_field_error(error) for error in detail]
    elif isinstance(detail, dict):
        body["detail"] = str(detail.get("detail") or detail.get("error") or detail)
        body.update({key: value for key, value in detail.items() if key not in body})
    else:
        body["detail"] = str(detail)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _field_error(error: Any) -> dict[str, Any]:
    if not isinstance(error, dict):
        return {"loc": [], "msg": str(error), "type": "value_error"}
    kept: dict[str, Any] = {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")),
                            "type": str(error.get("type", "value_error"))}
    if "ctx" in error and isinstance(error["ctx"], dict):
        kept["ctx"] = {key: str(value) for key, value in error["ctx"].items()}
    return kept


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as a problem, and put the Problem schema into the OpenAPI (the
    routes name it by reference only, so no other media type is claimed for errors)."""
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build_openapi()
            schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            components.update(schema.pop("$defs", {}))
            components["Problem"] = schema
        return app.openapi_schema or build_openapi()

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, list(exc.errors()))

    @app.exception_handler(UnstorableValue)
    async def unstorable_problem(request: Request, exc: UnstorableValue) -> JSONResponse:
        # The store refused the value before writing anything (MongoDB: over 16 MiB).
        return problem(422, [{"loc": ["body"], "msg": exc.why, "type": "value_error"}])
