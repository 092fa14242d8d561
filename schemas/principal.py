"""Who is calling: a principal is an API key's identity, its tenant and its scopes.

A contract both edges read (the API authenticates a bearer into one; the dashboard maps a
user's role onto the same scopes), so it lives here and imports nothing of ours. The checks
themselves (may this principal do that, see this tenant) are in :mod:`libs.access`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# The tenant of the plain SLUICE_API_KEYS keys, and of every job, document and vector
# written before tenants existed.
DEFAULT_TENANT = "default"
# A tenant name is part of stored keys (``t:<tenant>:<key>``): no colon, nothing odd.
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class Scope(StrEnum):
    JOBS_SUBMIT = "jobs:submit"  # submit, cancel, search and ask, in its own tenant
    JOBS_READ = "jobs:read"  # read its own tenant's jobs, documents, traces, DLQ, stats
    DLQ_ACT = "dlq:act"  # requeue, discard, resolve its own tenant's dead jobs
    DOCUMENTS_WRITE = "documents:write"  # put and delete documents in its own tenant
    OPS_READ = "ops:read"  # read every tenant: listings, stats, batches
    ADMIN = "admin"  # everything, every tenant, and /v1/admin


# What a scope brings with it: admin is every scope; reading operations reads jobs.
IMPLIED: dict[Scope, frozenset[Scope]] = {
    Scope.ADMIN: frozenset(Scope),
    Scope.OPS_READ: frozenset({Scope.OPS_READ, Scope.JOBS_READ}),
}
# The scopes of a plain SLUICE_API_KEYS key: what every key could do before scopes existed.
FULL_ACCESS: frozenset[Scope] = frozenset(Scope) - {Scope.ADMIN}


class Principal(BaseModel):
    """An authenticated caller. ``key_id`` names it in logs, audits, budgets and rate
    limits; it is never the key itself."""

    model_config = ConfigDict(frozen=True)

    key_id: str = Field(min_length=1, max_length=200)
    tenant: str = Field(default=DEFAULT_TENANT, pattern=TENANT_PATTERN)
    scopes: frozenset[Scope] = frozenset()

    def has(self, scope: Scope) -> bool:
        return any(scope in IMPLIED.get(held, frozenset({held})) for held in self.scopes)

    @property
    def all_tenants(self) -> bool:
        """Operators and admins see every tenant; everyone else only their own."""
        return self.has(Scope.OPS_READ)
