"""``sluice keys add`` prints a key once and stores only its hash; the API's key ring
then knows it with its tenant and scopes."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from libs.access.keys import KeyRing
from schemas.principal import Scope
from sluice.settings import load_settings


def test_keys_add_prints_the_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.jsonl"
    result = CliRunner().invoke(app, ["keys", "add", "--tenant", "acme", "--scope", "jobs:read",
                                      "--scope", "dlq:act", "--id", "ci", "--file",
                                      str(keys_file)])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("sk_") and key not in keys_file.read_text()
    ring = KeyRing(load_settings(data_dir=str(tmp_path), api_keys_file=str(keys_file)))
    principal = ring.authenticate(key)
    assert principal is not None and principal.key_id == "ci" and principal.tenant == "acme"
    assert principal.scopes == {Scope.JOBS_READ, Scope.DLQ_ACT}
    listed = CliRunner().invoke(app, ["keys", "list", "--file", str(keys_file)])
    assert listed.stdout.strip() == "ci\tacme\tdlq:act,jobs:read"


def test_keys_add_refuses_a_bad_tenant_or_scope(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.jsonl"
    bad_tenant = CliRunner().invoke(app, ["keys", "add", "--tenant", "a:b", "--scope", "admin",
                                          "--file", str(keys_file)])
    bad_scope = CliRunner().invoke(app, ["keys", "add", "--tenant", "a", "--scope", "root",
                                         "--file", str(keys_file)])
    assert bad_tenant.exit_code == 2 and bad_scope.exit_code == 2
    assert not keys_file.exists() or keys_file.read_text() == ""
