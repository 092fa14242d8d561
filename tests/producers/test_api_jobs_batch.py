"""Bulk submit and the job's lifecycle fields over HTTP: per-item results, partial failures
that lose nothing, priorities, schedules and callback URLs at the door."""

from __future__ import annotations

from datetime import timedelta

from schemas.job import JobStatus, utcnow
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv, make_env


def test_a_batch_answers_each_item_and_a_refused_one_loses_none_of_the_rest(
    sluice_env: SluiceEnv,
) -> None:
    auth = sluice_env.auth()
    with sluice_env.api() as client:
        client.post("/v1/jobs", json={"kind": "echo", "input": {"n": 0},
                                      "idempotency_key": "taken"}, headers=auth)
        response = client.post("/v1/jobs:batch", headers=auth, json={"jobs": [
            {"kind": "echo", "input": {"n": 1}, "idempotency_key": "b-1"},
            {"kind": "no-such-kind", "input": {}},
            {"kind": "echo", "input": {"n": 0}, "idempotency_key": "taken"},
            {"kind": "echo", "input": {"n": 99}, "idempotency_key": "taken"},
            {"kind": "echo", "input": {"n": 2}, "priority": "high", "delay_seconds": 3600},
        ]})
    assert response.status_code == 200
    body = response.json()
    assert [item["status"] for item in body["items"]] == [201, 422, 200, 409, 201]
    assert [item["index"] for item in body["items"]] == [0, 1, 2, 3, 4]
    assert (body["created"], body["existing"], body["failed"]) == (2, 1, 2)
    refused = body["items"][1]["error"]
    assert refused["status"] == 422 and refused["errors"][0]["loc"] == ["body", "jobs", 1, "kind"]
    assert "belongs to job" in body["items"][3]["error"]["detail"]
    scheduled = body["items"][4]["job"]
    assert scheduled["status"] == "scheduled" and scheduled["priority"] == "high"
    stored = sluice_env.store.list_jobs(JobQuery(kind="echo")).items
    assert len(stored) == 3  # the earlier job and the batch's two new ones


def test_a_batch_over_the_limit_is_refused_whole(sluice_env: SluiceEnv) -> None:
    env = make_env(sluice_env.tmp / "small", sluice_env.settings.broker_url or "",
                   max_batch_jobs=2)
    with env.api() as client:
        response = client.post("/v1/jobs:batch", headers=env.auth(), json={
            "jobs": [{"kind": "echo", "input": {}}] * 3})
    assert response.status_code == 422
    assert "SLUICE_MAX_BATCH_JOBS" in response.json()["errors"][0]["msg"]
    assert env.store.count(JobQuery()) == 0
    env.store.close()


def test_a_scheduled_job_can_be_cancelled_over_http_while_it_waits(
    sluice_env: SluiceEnv,
) -> None:
    run_at = (utcnow() + timedelta(days=400)).isoformat()
    with sluice_env.api() as client:
        created = client.post("/v1/jobs", headers=sluice_env.auth(), json={
            "kind": "echo", "input": {}, "run_at": run_at, "priority": "low"})
        assert created.status_code == 201
        job = created.json()
        assert job["status"] == "scheduled" and job["priority"] == "low"
        cancelled = client.post(f"/v1/jobs/{job['id']}/cancel", headers=sluice_env.auth())
    assert cancelled.status_code == 200
    assert sluice_env.store.get(job["id"]).status is JobStatus.CANCELLED


def test_schedules_priorities_and_callbacks_are_checked_at_the_door(
    sluice_env: SluiceEnv,
) -> None:
    auth = sluice_env.auth()
    refused = [
        ({"run_at": "2030-01-01T00:00:00", "kind": "echo"}, "run_at"),  # no zone
        ({"run_at": "2030-01-01T00:00:00Z", "delay_seconds": 5, "kind": "echo"}, None),
        ({"priority": "urgent", "kind": "echo"}, "priority"),
        ({"delay_seconds": -1, "kind": "echo"}, "delay_seconds"),
        ({"callback_url": "https://evil.example/x", "kind": "echo"}, "callback_url"),
    ]
    with sluice_env.api() as client:
        for body, field in refused:
            response = client.post("/v1/jobs", headers=auth, json=body)
            assert response.status_code == 422, body
            if field is not None:
                assert field in response.json()["errors"][0]["loc"], response.json()
    assert sluice_env.store.count(JobQuery()) == 0


def test_the_client_submits_batches_and_schedules(sluice_env: SluiceEnv) -> None:
    from sluice.client import SluiceClient

    run_at = utcnow() + timedelta(hours=2)
    with sluice_env.api() as http, SluiceClient(http=http) as client:
        http.headers.update(sluice_env.auth())
        result = client.submit_batch([
            {"kind": "echo", "input": {"n": 1}, "idempotency_key": "c-1", "priority": "low"},
            {"kind": "echo", "input": {"n": 2}, "run_at": run_at},
            {"kind": "nope"},
        ])
        scheduled = client.submit("echo", {"n": 3}, priority="high", delay_seconds=60)
    assert [item.status for item in result.items] == [201, 201, 422]
    assert result.items[0].job is not None and result.items[0].job.priority == "low"
    assert result.items[1].job is not None and result.items[1].job.run_at == run_at
    assert not result.items[2].ok and result.items[2].error is not None
    assert scheduled.status is JobStatus.SCHEDULED and scheduled.priority == "high"
