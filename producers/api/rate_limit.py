"""The per-key submission limit as a FastAPI dependency: 429 with ``Retry-After``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status

from producers.api.auth import ApiKey
from producers.api.dependencies import SettingsDep
from sluice.rate_limit import take
from sluice.settings import api_key_id


def submission_allowed(key: ApiKey, settings: SettingsDep) -> None:
    decision = take(settings, api_key_id(key))
    if not decision.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"submission rate limit of {settings.submit_rate_per_minute}/minute "
            f"for this key; retry in {decision.retry_after_seconds}s",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )


SubmissionAllowed = Annotated[None, Depends(submission_allowed)]
