"""The access checks, one place for every edge: a scope held, a tenant visible.

The API calls them through one FastAPI dependency per scope; the dashboard maps a user's
role onto scopes (:data:`ROLE_SCOPES`) and calls the same :func:`require`. An object of
another tenant is reported as absent by the callers (404), never as forbidden: a 403
would confirm that it exists.
"""

from __future__ import annotations

from schemas.principal import DEFAULT_TENANT, Principal, Scope

# The dashboard's roles as scopes (viewer < reviewer < admin), by role value so this
# library needs nothing from the dashboard.
ROLE_SCOPES: dict[str, frozenset[Scope]] = {
    "viewer": frozenset({Scope.JOBS_READ, Scope.OPS_READ}),
    "reviewer": frozenset({Scope.JOBS_READ, Scope.OPS_READ, Scope.DLQ_ACT}),
    "admin": frozenset({Scope.ADMIN}),
}


class MissingScope(PermissionError):
    """The principal lacks the scope; nothing was done."""

    def __init__(self, principal: Principal, scope: Scope) -> None:
        super().__init__(f"key {principal.key_id} lacks the {scope.value} scope")
        self.principal = principal
        self.scope = scope


def require(principal: Principal, scope: Scope) -> Principal:
    """``principal`` when it holds ``scope`` (directly or through admin / ops:read)."""
    if not principal.has(scope):
        raise MissingScope(principal, scope)
    return principal


def visible(principal: Principal, tenant: str | None) -> bool:
    """Whether ``principal`` may see an object of ``tenant`` (None: written before tenants,
    so the default tenant's)."""
    return principal.all_tenants or (tenant or DEFAULT_TENANT) == principal.tenant


def tenant_filter(principal: Principal) -> str | None:
    """The tenant a listing is narrowed to; None when the principal sees every tenant."""
    return None if principal.all_tenants else principal.tenant


def dashboard_principal(user_name: str, role: str) -> Principal:
    """A dashboard user as a principal: named by user, scoped by role, every tenant
    (reviewers work the whole queue, as before tenants)."""
    return Principal(key_id=f"user:{user_name}", scopes=ROLE_SCOPES.get(role, frozenset()))


# Client idempotency keys live under ``t:<tenant>:``; Sluice's own (``sink:``, ``redrive:``,
# ``email:``, ...) never start with ``t:``, so no client can take one.
CLIENT_KEY_PREFIX = "t:"


def client_idempotency_key(tenant: str, key: str | None) -> str | None:
    """The stored form of a client's idempotency key: namespaced by its tenant."""
    return None if key is None else f"{CLIENT_KEY_PREFIX}{tenant}:{key}"
