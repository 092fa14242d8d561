"""With SLUICE_MONGODB_URL exported, each test's Sluice gets a MongoDB database of its own,
named with the session's prefix, and the session drops only those; unset, nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import test_settings as settings_for_test
from tests.support import mongo


def test_each_sluice_a_test_builds_gets_its_own_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = mongo.mongodb_url() or "mongodb://127.0.0.1:9/?replicaSet=rs0"
    monkeypatch.setenv("SLUICE_MONGODB_URL", url)
    first = settings_for_test(tmp_path, "redis://unused")["mongodb_database"]
    second = settings_for_test(tmp_path, "redis://unused")["mongodb_database"]
    assert first != second and first != "sluice"
    assert first.startswith(mongo.SESSION_PREFIX) and second.startswith(mongo.SESSION_PREFIX)
    assert (url, first) in mongo._named  # dropped at the session's end, when it is this URL
    chosen = settings_for_test(tmp_path, "redis://unused", mongodb_database="mine")
    assert chosen["mongodb_database"] == "mine"


def test_without_the_url_the_settings_are_as_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("SLUICE_MONGODB_URL", raising=False)
    assert "mongodb_database" not in settings_for_test(tmp_path, "redis://unused")
    assert mongo.drop_named_databases() == []
