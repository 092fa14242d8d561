"""``/v1/admin``: the LLM kill switch and budget windows, for keys in SLUICE_ADMIN_API_KEYS."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from libs.llm import budget as llm_budget
from producers.api.auth import ApiKey
from producers.api.dependencies import SettingsDep
from sluice.settings import api_key_id

router = APIRouter(prefix="/v1/admin", tags=["admin"])


def require_admin(key: ApiKey, settings: SettingsDep) -> str:
    admins = settings.admin_key_values()
    if not any(hmac.compare_digest(key.encode(), admin.encode()) for admin in admins):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="this key is not an admin key (SLUICE_ADMIN_API_KEYS)",
        )
    return key


AdminKey = Annotated[str, Depends(require_admin)]


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
def llm_state(_admin: AdminKey, settings: SettingsDep) -> dict[str, Any]:
    """The kill switch and the current budget windows."""
    return _state(settings)


@router.post("/llm/pause")
def pause_llm(body: PauseRequest, admin: AdminKey, settings: SettingsDep) -> dict[str, Any]:
    """Stop new LLM calls fleet-wide at once; jobs that need one wait (they do not fail)."""
    llm_budget.pause(settings, by=f"api-key:{api_key_id(admin)}", reason=body.reason)
    return _state(settings)


@router.post("/llm/resume")
def resume_llm(admin: AdminKey, settings: SettingsDep) -> dict[str, Any]:
    llm_budget.resume(settings, by=f"api-key:{api_key_id(admin)}")
    return _state(settings)
