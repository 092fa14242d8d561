"""The contract every record store keeps: one accepted record per source job, written once."""

from __future__ import annotations

from libs.sinks.records import RecordStore


def test_a_record_is_stored_once_per_job(records: RecordStore) -> None:
    assert records.put("job-1", "support_ticket", 2, {"subject": "héllo", "tags": ["a"]})
    assert not records.put("job-1", "support_ticket", 2, {"subject": "other"})
    stored = records.get("job-1")
    assert stored is not None
    assert stored["record"] == {"subject": "héllo", "tags": ["a"]}
    assert (stored["job_id"], stored["schema_name"], stored["schema_version"]) == (
        "job-1", "support_ticket", 2,
    )
    assert isinstance(stored["created_at"], str)
    assert records.count() == 1


def test_an_unknown_job_has_no_record(records: RecordStore) -> None:
    assert records.get("nope") is None
    assert records.count() == 0


def test_records_without_a_schema_are_kept(records: RecordStore) -> None:
    assert records.put("job-2", None, None, {"free": "form"})
    stored = records.get("job-2")
    assert stored is not None and stored["schema_name"] is None
