"""``/v1/admin``: the LLM kill switch, budget windows and erasure, for admin-scope keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from libs.erasure import NotAnAddress, checked_address, subject_hash
from libs.llm import budget as llm_budget
from producers.api.auth import Admin
from producers.api.dependencies import SettingsDep
from producers.api.responses import errors

router = APIRouter(prefix="/v1/admin", tags=["admin"])
log = structlog.get_logger(__name__)

# Erase an address everywhere; returns how much went per store (cli.erasure).
Eraser = Callable[[str], dict[str, int]]


class PauseRequest(BaseModel):
    reason: str = Field("", max_length=500)


def _state(settings: Any) -> dict[str, Any]:
    state = llm_budget.pause_state(settings)
    windows = [
        {
            "rule": window.rule.name, "scope": window.scope_id, "used": window.used,
            "limit": window.limit, "resets_at": window.resets_at,
        }
        for window in llm_budget.usage(settings)
    ]
    return {"paused": state is not None, "pause": state.__dict__ if state else None,
            "budgets": windows}


@router.get("/llm")
def llm_state(_admin: Admin, settings: SettingsDep) -> dict[str, Any]:
    """The kill switch and the current budget windows."""
    return _state(settings)


@router.post("/llm/pause")
def pause_llm(body: PauseRequest, admin: Admin, settings: SettingsDep) -> dict[str, Any]:
    """Stop new LLM calls fleet-wide at once; jobs that need one wait (they do not fail)."""
    llm_budget.pause(settings, by=f"api-key:{admin.key_id}", reason=body.reason)
    return _state(settings)


@router.post("/llm/resume")
def resume_llm(admin: Admin, settings: SettingsDep) -> dict[str, Any]:
    llm_budget.resume(settings, by=f"api-key:{admin.key_id}")
    return _state(settings)


class ErasureRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320, description="The person's address.")


class ErasureReport(BaseModel):
    subject_sha256: str = Field(description="How the audit trail names the erased subject.")
    erased: dict[str, int] = Field(description="What went, per store.")


@router.post("/erasures", response_model=ErasureReport, responses=errors(422, 501))
async def erase_person(body: ErasureRequest, admin: Admin, request: Request) -> ErasureReport:
    """Remove a person's data everywhere Sluice keeps it: jobs, documents and their
    vectors, records, the dashboard's audit details. The audit trail keeps a hashed stub."""
    erase: Eraser | None = request.app.state.erase
    if erase is None:
        raise HTTPException(501, "erasure is not wired into this API process: run it with "
                                 "`sluice api`, or use `sluice erase --email`")
    try:
        address = checked_address(body.email)
    except NotAnAddress as exc:
        raise HTTPException(422, str(exc)) from None
    subject = subject_hash(address)
    erased = await run_in_threadpool(erase, address)
    log.info("person erased", subject_sha256=subject, by=admin.key_id, **erased)
    return ErasureReport(subject_sha256=subject, erased=erased)
