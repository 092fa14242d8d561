"""Throwaway MongoDB databases for tests, or a skip that says why there is none.

With ``SLUICE_MONGODB_URL`` set, every Sluice a test builds (tests/conftest.py's
``test_settings``) gets a database of its own, named with this session's prefix, and the
session drops exactly the databases it named, nothing else on that server. With it unset
nothing here runs and the tests use SQLite as always.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SKIP_REASON = (
    "SLUICE_MONGODB_URL is unset: no MongoDB server can be installed on this machine; "
    "point it at a replica set to run the MongoDB side of this contract"
)
SESSION_PREFIX = f"sluice_test_{uuid.uuid4().hex[:8]}"
_numbers = itertools.count(1)
# (url, database) of every database this session named; only these are ever dropped.
_named: list[tuple[str, str]] = []


def mongodb_url() -> str | None:
    return os.environ.get("SLUICE_MONGODB_URL") or None


def new_database() -> str | None:
    """A database name no other test uses, recorded for the session's cleanup; None
    without ``SLUICE_MONGODB_URL``."""
    url = mongodb_url()
    if url is None:
        return None
    name = f"{SESSION_PREFIX}_{next(_numbers)}"
    _named.append((url, name))
    return name


def drop_named_databases() -> list[str]:
    """Drop the databases this session named on the server the environment names now."""
    url = mongodb_url()
    if url is None or not _named:
        return []
    from pymongo import MongoClient

    dropped: list[str] = []
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=10_000)
    try:
        for named_url, name in _named:
            if named_url == url and name.startswith(SESSION_PREFIX):
                client.drop_database(name)
                dropped.append(name)
    finally:
        client.close()
    _named.clear()
    return dropped


@contextmanager
def throwaway_database() -> Iterator[tuple[str, str]]:
    """(url, database name) for a contract test; dropped with the session's others."""
    url = mongodb_url()
    database = new_database()
    if url is None or database is None:
        pytest.skip(SKIP_REASON)
    yield url, database
