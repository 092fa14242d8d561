"""Bearer-key authentication: 401 without a key, 403 with a wrong one."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="One of the keys in SLUICE_API_KEYS.")


def require_api_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's key; compared in constant time against every configured key."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    offered = credentials.credentials.encode()
    known = request.app.state.settings.api_key_values()
    if not any(hmac.compare_digest(offered, key.encode()) for key in known):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="unknown API key")
    return credentials.credentials


ApiKey = Annotated[str, Depends(require_api_key)]
