"""``/v1/admin``: the LLM kill switch and budget windows, for keys with the admin scope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from libs.llm import budget as llm_budget
from producers.api.auth import Admin
from producers.api.dependencies import SettingsDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])


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
