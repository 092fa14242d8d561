"""The key ring and the access checks: hashed keys with tenants and scopes, plain keys as
the default tenant, scopes implied by admin and ops:read, tenants visible or not."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from libs.access.checks import (
    MissingScope,
    client_idempotency_key,
    dashboard_principal,
    require,
    tenant_filter,
    visible,
)
from libs.access.keys import InvalidKeysFile, KeyRing, add_key, key_hash
from schemas.principal import FULL_ACCESS, Principal, Scope
from sluice.settings import api_key_id, load_settings


def test_a_added_key_is_stored_only_as_its_hash_and_authenticates(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.jsonl"
    key, _ = add_key(keys_file, tenant="acme", scopes=[Scope.JOBS_READ], key_id="reader")
    assert key not in keys_file.read_text()
    assert json.loads(keys_file.read_text()) == {
        "id": "reader", "sha256": key_hash(key), "tenant": "acme", "scopes": ["jobs:read"]}
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    ring = KeyRing(load_settings(data_dir=str(tmp_path), api_keys_file=str(keys_file)))
    principal = ring.authenticate(key)
    assert principal == Principal(key_id="reader", tenant="acme",
                                  scopes=frozenset({Scope.JOBS_READ}))
    assert ring.authenticate(key + "x") is None and ring.authenticate("") is None
    with pytest.raises(InvalidKeysFile):
        add_key(keys_file, tenant="acme", scopes=[Scope.JOBS_READ], key_id="reader")


def test_a_key_added_later_works_without_a_restart(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.jsonl"
    ring = KeyRing(load_settings(data_dir=str(tmp_path), api_keys_file=str(keys_file)))
    key, _ = add_key(keys_file, tenant="acme", scopes=[Scope.JOBS_SUBMIT])
    found = ring.authenticate(key)
    assert found is not None and found.tenant == "acme"


def test_a_bad_line_in_the_keys_file_names_the_file_and_line(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.jsonl"
    keys_file.write_text('# comment\n{"id": "x", "sha256": "nothex", "scopes": ["admin"]}\n')
    with pytest.raises(InvalidKeysFile, match=r"keys\.jsonl:2"):
        KeyRing(load_settings(data_dir=str(tmp_path), api_keys_file=str(keys_file)))


def test_plain_keys_are_full_access_in_the_default_tenant_and_admin_keys_admins(
    tmp_path: Path,
) -> None:
    ring = KeyRing(load_settings(data_dir=str(tmp_path), api_keys="plain,both",
                                 admin_api_keys="root,both"))
    plain, root, both = (ring.authenticate(k) for k in ("plain", "root", "both"))
    assert plain == Principal(key_id=api_key_id("plain"), scopes=FULL_ACCESS)
    assert root is not None and root.has(Scope.ADMIN) and root.tenant == "default"
    assert both is not None and both.has(Scope.ADMIN)
    assert not plain.has(Scope.ADMIN)


def test_scopes_admin_implies_all_and_ops_read_reads_every_tenant() -> None:
    reader = Principal(key_id="r", tenant="acme", scopes=frozenset({Scope.JOBS_READ}))
    ops = Principal(key_id="o", tenant="acme", scopes=frozenset({Scope.OPS_READ}))
    admin = Principal(key_id="a", scopes=frozenset({Scope.ADMIN}))
    assert require(reader, Scope.JOBS_READ) is reader
    with pytest.raises(MissingScope, match="dlq:act"):
        require(reader, Scope.DLQ_ACT)
    assert ops.has(Scope.JOBS_READ) and not ops.has(Scope.DLQ_ACT)
    assert all(admin.has(scope) for scope in Scope)
    assert visible(reader, "acme") and not visible(reader, "globex")
    assert not visible(reader, None)  # no tenant: the default tenant's
    assert visible(ops, "globex") and visible(admin, "globex")
    assert tenant_filter(reader) == "acme" and tenant_filter(ops) is None


def test_dashboard_roles_map_onto_scopes() -> None:
    viewer, reviewer = dashboard_principal("v", "viewer"), dashboard_principal("r", "reviewer")
    assert viewer.has(Scope.JOBS_READ) and not viewer.has(Scope.DLQ_ACT)
    assert reviewer.has(Scope.DLQ_ACT) and not reviewer.has(Scope.ADMIN)
    assert dashboard_principal("a", "admin").has(Scope.ADMIN)
    assert dashboard_principal("x", "unknown").scopes == frozenset()


def test_client_idempotency_keys_live_in_their_tenants_namespace() -> None:
    assert client_idempotency_key("acme", "sink:job:records") == "t:acme:sink:job:records"
    assert client_idempotency_key("acme", None) is None
