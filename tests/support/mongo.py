"""A throwaway MongoDB database for contract suites, or a skip that says why there is none."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

SKIP_REASON = (
    "SLUICE_MONGODB_URL is unset: no MongoDB server can be installed on this machine; "
    "point it at a replica set to run the MongoDB side of this contract"
)


@contextmanager
def throwaway_database() -> Iterator[tuple[str, str]]:
    """(url, database name); the database is dropped afterwards."""
    url = os.environ.get("SLUICE_MONGODB_URL")
    if not url:
        pytest.skip(SKIP_REASON)
    from pymongo import MongoClient

    database = f"sluice_test_{uuid.uuid4().hex[:8]}"
    try:
        yield url, database
    finally:
        MongoClient(url).drop_database(database)
