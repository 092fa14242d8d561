"""One backend fixture for the store contract suites: each store runs against SQLite and
PostgreSQL always (a throwaway database on this machine's server; a skip says why when none
answers), and MongoDB when ``SLUICE_MONGODB_URL`` is set (otherwise that side skips, saying
why)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from libs.documents.warehouse import DocumentStore, MongoDocumentStore, SQLiteDocumentStore
from libs.sinks.records import RecordStore, open_records
from producers.state_store import MongoStateStore, SQLiteStateStore, StateStore
from sluice.settings import Settings, load_settings
from sluice.stores.base import JobStore
from sluice.stores.sqlite import SQLiteJobStore
from tests.support.mongo import throwaway_database


@dataclass(frozen=True)
class Backend:
    """Where a store under test keeps its data: a SQLite file, a PostgreSQL database or a
    MongoDB database."""

    name: str
    sqlite_path: Path
    mongodb_url: str | None = None
    mongodb_database: str = "sluice"
    database_url: str | None = None

    def settings(self) -> Settings:
        return load_settings(data_dir=self.sqlite_path.parent, mongodb_url=self.mongodb_url,
                             mongodb_database=self.mongodb_database,
                             database_url=self.database_url)


@pytest.fixture(params=["sqlite", "postgresql", "mongodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path / "sluice.db")
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        yield Backend("postgresql", tmp_path / "sluice.db", database_url=url)
        return
    with throwaway_database() as (url, database):
        yield Backend("mongodb", tmp_path / "sluice.db", url, database)


@pytest.fixture
def store(backend: Backend) -> Iterator[JobStore]:
    opened: JobStore
    if backend.database_url is not None:
        from sluice.stores.postgres import PostgresJobStore

        opened = PostgresJobStore(backend.database_url)
    elif backend.mongodb_url is None:
        opened = SQLiteJobStore(backend.sqlite_path)
    else:
        from sluice.stores.mongo import MongoJobStore

        opened = MongoJobStore(backend.mongodb_url, backend.mongodb_database)
    yield opened
    opened.close()


@pytest.fixture
def documents(backend: Backend) -> Iterator[DocumentStore]:
    opened: DocumentStore
    if backend.database_url is not None:
        from libs.documents.postgres import PostgresDocumentStore

        opened = PostgresDocumentStore(backend.database_url)
    elif backend.mongodb_url is None:
        opened = SQLiteDocumentStore(backend.sqlite_path)
    else:
        opened = MongoDocumentStore(backend.mongodb_url, backend.mongodb_database)
    yield opened
    opened.close()


@pytest.fixture
def state(backend: Backend) -> Iterator[StateStore]:
    opened: StateStore
    if backend.database_url is not None:
        from producers.state_store_postgres import PostgresStateStore

        opened = PostgresStateStore(backend.database_url)
    elif backend.mongodb_url is None:
        opened = SQLiteStateStore(backend.sqlite_path)
    else:
        opened = MongoStateStore(backend.mongodb_url, backend.mongodb_database)
    yield opened
    opened.close()


@pytest.fixture
def records(backend: Backend) -> Iterator[RecordStore]:
    opened = open_records(backend.settings())
    yield opened
    opened.close()
