"""Liveness and readiness, unauthenticated so that orchestrators can probe them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from producers.api.dependencies import CeleryDep, StoreDep

router = APIRouter(tags=["health"])
BROKER_CHECK_TIMEOUT_SECONDS = 2.0


class Readiness(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    store: str
    broker: str


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={
    503: {"model": Readiness, "description": "The broker or the store does not answer."}})
def readyz(store: StoreDep, celery: CeleryDep) -> JSONResponse:
    """The broker and the store answer."""
    checks: dict[str, Any] = {}
    try:
        store.ping()
        checks["store"] = "ok"
    except Exception as exc:
        checks["store"] = f"unreachable: {exc}"
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_SECONDS)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"unreachable: {exc}"
    ready = all(value == "ok" for value in checks.values())
    code = status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse({"status": "ready" if ready else "not ready", **checks}, status_code=code)
