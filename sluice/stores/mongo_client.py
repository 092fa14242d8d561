"""One MongoDB client per process, with options that survive a replica-set election.

Every MongoDB store (jobs, documents, producer state, records) takes its collections from
:func:`shared_client`, so a process holds one connection pool however many stores it opens
(a batch step that opens the warehouse no longer starts a client). PyMongo clients must not
cross a fork: a child process gets its own.

The options are fixed here rather than read from the URL, because the stores depend on them:
reads and compare-and-set go to the primary (a ``readPreference=secondary`` in the URL would
read a stale version and lose every race), writes wait for a majority (so a failover cannot
roll back a write a caller was told succeeded), and the timeouts outlast an election
(~10-12 s with MongoDB's default ``electionTimeoutMillis``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pymongo import MongoClient, ReadPreference
from pymongo.collection import Collection
from pymongo.operations import IndexModel

from sluice.process_id import current_pid

# Longer than an election: a write issued while the primary steps down waits for the next.
SERVER_SELECTION_TIMEOUT_MS = 30_000
# Client-side operation timeout (PyMongo's CSOT): bounds a call, retries included.
OPERATION_TIMEOUT_MS = 60_000


def client_options() -> dict[str, Any]:
    """Keyword options for ``MongoClient``/``AsyncMongoClient``; keywords beat the URL's."""
    return {
        "tz_aware": True,
        "serverSelectionTimeoutMS": SERVER_SELECTION_TIMEOUT_MS,
        "timeoutMS": OPERATION_TIMEOUT_MS,
        "readPreference": "primary",
        "retryWrites": True,
        "retryReads": True,
        "w": "majority",
    }


# URL options that choose where reads go; they cannot be combined with the primary, so
# they are dropped from the URL rather than refused.
READ_PREFERENCE_OPTIONS = frozenset({"readpreference", "readpreferencetags",
                                     "maxstalenessseconds"})


def without_read_preference(url: str) -> str:
    """``url`` without its read-preference options (the stores read from the primary)."""
    parts = urlsplit(url)
    kept = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name.lower() not in READ_PREFERENCE_OPTIONS]
    return urlunsplit(parts._replace(query=urlencode(kept, safe=":,")))


_lock = threading.Lock()
_clients: dict[str, tuple[int, MongoClient[dict[str, Any]]]] = {}
_indexed: set[tuple[str, str, str]] = set()


def shared_client(url: str) -> MongoClient[dict[str, Any]]:
    """This process's client for ``url`` (created on first use, again after a fork)."""
    with _lock:
        held = _clients.get(url)
        if held is None or held[0] != current_pid():
            client: MongoClient[dict[str, Any]] = MongoClient(
                without_read_preference(url), **client_options())
            held = (current_pid(), client)
            _clients[url] = held
        return held[1]


def primary_collection(url: str, database: str, name: str) -> Collection[dict[str, Any]]:
    """A collection whose reads go to the primary whatever the URL asks for."""
    return shared_client(url)[database].get_collection(
        name, read_preference=ReadPreference.PRIMARY)


def ensure_indexes(
    collection: Collection[dict[str, Any]], url: str, models: Sequence[IndexModel]
) -> None:
    """Create ``models`` on the collection once per process (not on every store opened).

    A failure is not remembered, so the next use tries again."""
    key = (url, collection.database.name, collection.name)
    if key in _indexed:
        return
    collection.create_indexes(list(models))
    with _lock:
        _indexed.add(key)


class MongoClients:
    """A store's handle on the process's shared client (``close`` leaves it open for the
    process's other stores)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self) -> MongoClient[dict[str, Any]]:
        return shared_client(self.url)

    def collection(self, database: str, name: str) -> Collection[dict[str, Any]]:
        return primary_collection(self.url, database, name)

    def close(self) -> None:
        """Nothing to do: the client is the process's, shared by every store."""


__all__ = [
    "OPERATION_TIMEOUT_MS",
    "SERVER_SELECTION_TIMEOUT_MS",
    "MongoClients",
    "client_options",
    "ensure_indexes",
    "primary_collection",
    "shared_client",
    "without_read_preference",
]
