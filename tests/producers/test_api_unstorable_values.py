"""Values MongoDB cannot hold are a 422 at the door, whichever store runs: an integer
outside 64 bits is refused by the input model, a document the store refuses (MongoDB: over
16 MiB) by the store before anything is written."""

from __future__ import annotations

from pathlib import Path

from schemas.job import Job
from sluice.stores.base import JobQuery
from sluice.stores.bson_limits import refusals_as_unstorable
from sluice.stores.mongo import _to_document
from sluice.stores.sqlite import SQLiteJobStore
from tests.conftest import SluiceEnv


class BsonRulesJobStore(SQLiteJobStore):
    """The real SQLite store that also encodes each new job as BSON first, as the MongoDB
    store's insert does, with a small size limit standing in for 16 MiB."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(path)
        self._limit = limit

    def _insert(self, job: Job) -> bool:
        import bson
        from pymongo.errors import DocumentTooLarge

        document = _to_document(job)
        with refusals_as_unstorable(document, f"job {job.id}"):
            if len(bson.encode(document)) > self._limit:
                raise DocumentTooLarge("BSON document too large")
        return super()._insert(job)


def test_an_integer_beyond_64_bits_is_422_naming_it_and_nothing_is_stored(
    sluice_env: SluiceEnv,
) -> None:
    api = sluice_env.api()
    refused = api.post("/v1/jobs", headers=sluice_env.auth(),
                       json={"kind": "echo", "input": {"rows": [1, 2**64]}})
    assert refused.status_code == 422
    assert "rows.1" in refused.text and "64 bits" in refused.text
    assert sluice_env.store.count(JobQuery()) == 0
    fits = api.post("/v1/jobs", headers=sluice_env.auth(),
                    json={"kind": "echo", "input": {"rows": [2**63 - 1, -(2**63)]}})
    assert fits.status_code == 201


def test_a_job_the_store_refuses_is_422_not_500(sluice_env: SluiceEnv) -> None:
    with sluice_env.api() as api:
        store = BsonRulesJobStore(sluice_env.settings.sqlite_path, limit=4096)
        api.app.state.store = store  # type: ignore[attr-defined]
        refused = api.post("/v1/jobs", headers=sluice_env.auth(),
                           json={"kind": "echo", "input": {"text": "x" * 10_000}})
        assert refused.status_code == 422, refused.text
        assert "DocumentTooLarge" in refused.text and "job " in refused.text
        assert store.count(JobQuery()) == 0
        store.close()
