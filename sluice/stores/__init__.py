"""Job stores: SQLite (embedded default), PostgreSQL (``SLUICE_DATABASE_URL``) or MongoDB
(``SLUICE_MONGODB_URL``)."""

from __future__ import annotations

import functools

from sluice.settings import Settings, get_settings
from sluice.stores.base import (
    ConcurrentUpdate,
    IdempotencyConflict,
    InvalidCursor,
    JobNotFound,
    JobQuery,
    JobStore,
)


def open_store(settings: Settings) -> JobStore:
    """The configured store, publishing each job version it writes to the broker's Redis
    (:mod:`sluice.job_events`)."""
    store: JobStore
    if settings.database_url is not None:
        from sluice.stores.postgres import PostgresJobStore

        store = PostgresJobStore(
            settings.database_url.get_secret_value(), settings.database_pool_size
        )
    elif settings.mongodb_url is not None:
        from sluice.stores.mongo import MongoJobStore

        store = MongoJobStore(settings.mongodb_url.get_secret_value(), settings.mongodb_database)
    else:
        from sluice.stores.sqlite import SQLiteJobStore

        store = SQLiteJobStore(settings.sqlite_path)
    from sluice.job_events import publisher_for

    publisher = publisher_for(settings)
    if publisher is not None:
        store.observe(publisher)
    return store


@functools.cache
def get_store() -> JobStore:
    """The process-wide store for the process-wide settings."""
    return open_store(get_settings())


__all__ = [
    "ConcurrentUpdate",
    "IdempotencyConflict",
    "InvalidCursor",
    "JobNotFound",
    "JobQuery",
    "JobStore",
    "get_store",
    "open_store",
]
