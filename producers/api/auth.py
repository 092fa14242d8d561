"""Who is calling, and may they: one FastAPI dependency per scope.

A route names what it needs (``caller: Reader``) and gets the caller's
:class:`~schemas.principal.Principal`: 401 without a bearer key, 403 with an unknown key
or one that lacks the scope. Whether the caller may see a given job or document is
:func:`owned`'s answer: another tenant's object is a 404, exactly like a missing one, so
no answer confirms that it exists. The checks are :mod:`libs.access`'s, shared with the
dashboard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.access.checks import MissingScope, require, visible
from libs.access.keys import KeyRing
from schemas.principal import Principal, Scope

bearer = HTTPBearer(
    auto_error=False,
    description="An API key: one of SLUICE_API_KEYS, or one made by `sluice keys add`.",
)


def key_ring(request: Request) -> KeyRing:
    ring: KeyRing | None = getattr(request.app.state, "key_ring", None)
    if ring is None:
        ring = request.app.state.key_ring = KeyRing(request.app.state.settings)
    return ring


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller's principal: 401 without a bearer key, 403 for one nobody issued.

    Async so that it runs in the request's own context (the log bindings below then reach
    every line the route logs); it only hashes and compares, it never waits on I/O but a
    stat of the keys file.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = key_ring(request).authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="unknown API key")
    # Every line logged for this request says who asked (the key's id, never the key).
    structlog.contextvars.bind_contextvars(key_id=principal.key_id, tenant=principal.tenant)
    return principal


def principal_with(scope: Scope) -> Callable[[Principal], Principal]:
    """A dependency giving the caller's principal once it holds ``scope`` (403 if not)."""

    def dependency(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
        try:
            return require(principal, scope)
        except MissingScope as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc)) from exc

    dependency.__name__ = f"principal_with_{scope.name.lower()}"
    return dependency


def owned(principal: Principal, tenant: str | None, what: str) -> None:
    """404 (never 403) when the object of ``tenant`` is not the principal's to see."""
    if not visible(principal, tenant):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {what}")


Submitter = Annotated[Principal, Depends(principal_with(Scope.JOBS_SUBMIT))]
Reader = Annotated[Principal, Depends(principal_with(Scope.JOBS_READ))]
DeadLetterActor = Annotated[Principal, Depends(principal_with(Scope.DLQ_ACT))]
DocumentWriter = Annotated[Principal, Depends(principal_with(Scope.DOCUMENTS_WRITE))]
Operator = Annotated[Principal, Depends(principal_with(Scope.OPS_READ))]
Admin = Annotated[Principal, Depends(principal_with(Scope.ADMIN))]
