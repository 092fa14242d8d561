"""The jobs API: auth, validation, idempotency, pagination, cancel, and a real round trip."""

from __future__ import annotations

import redis

from schemas.job import JobStatus
from sluice.broker_queues import queue_depth
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv
from tests.support.polling import wait_for


def queued_messages(env: SluiceEnv, queue: str = "cpu") -> int:
    """Messages waiting in ``queue``, at every priority (kombu keeps one list per step)."""
    url = env.settings.broker_url or ""
    client = redis.Redis(unix_socket_path=url.removeprefix("redis+socket://"))
    return queue_depth(client, queue)


def test_a_job_submitted_over_http_succeeds_with_its_result(sluice_env: SluiceEnv) -> None:
    sluice_env.worker()
    with sluice_env.api() as client:
        response = client.post(
            "/v1/jobs", json={"kind": "echo", "input": {"text": "hi"}}, headers=sluice_env.auth()
        )
        assert response.status_code == 201
        job_id = response.json()["id"]

        def finished() -> dict[str, object] | None:
            job = client.get(f"/v1/jobs/{job_id}", headers=sluice_env.auth()).json()
            return job if job["status"] == "succeeded" else None

        job = wait_for(finished, what="the echo job to succeed")
    assert job["result"] == {"text": "hi"}
    assert job["deliveries"] == 1


def test_same_idempotency_key_returns_the_job_and_enqueues_nothing(sluice_env: SluiceEnv) -> None:
    body = {"kind": "echo", "input": {"n": 1}, "idempotency_key": "invoice-7"}
    with sluice_env.api() as client:
        first = client.post("/v1/jobs", json=body, headers=sluice_env.auth())
        second = client.post("/v1/jobs", json=body, headers=sluice_env.auth())
        changed = client.post(
            "/v1/jobs", json={**body, "input": {"n": 2}}, headers=sluice_env.auth()
        )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert changed.status_code == 409
    assert queued_messages(sluice_env) == 1
    assert sluice_env.store.count(JobQuery()) == 1


def test_cancel_of_a_queued_job(sluice_env: SluiceEnv) -> None:
    with sluice_env.api() as client:
        job = client.post("/v1/jobs", json={"kind": "echo"}, headers=sluice_env.auth()).json()
        cancelled = client.post(f"/v1/jobs/{job['id']}/cancel", headers=sluice_env.auth())
        again = client.post(f"/v1/jobs/{job['id']}/cancel", headers=sluice_env.auth())
        missing = client.post("/v1/jobs/nope/cancel", headers=sluice_env.auth())
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert missing.status_code == 404


def test_listing_pages_through_every_job_with_a_cursor(sluice_env: SluiceEnv) -> None:
    with sluice_env.api() as client:
        ids = [
            client.post("/v1/jobs", json={"kind": "echo", "input": {"i": i}},
                        headers=sluice_env.auth()).json()["id"]
            for i in range(7)
        ]
        sluice_env.store.cancel(ids[0])
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 3, "status": "queued"}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/jobs", params=params, headers=sluice_env.auth()).json()
            seen.extend(job["id"] for job in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad_cursor = client.get("/v1/jobs", params={"cursor": "x"}, headers=sluice_env.auth())
    assert seen == list(reversed(ids[1:]))
    assert bad_cursor.status_code == 400


def test_requests_refused_for_auth_size_or_validation_store_nothing(
    sluice_env: SluiceEnv,
) -> None:
    limit = sluice_env.settings.max_request_bytes
    with sluice_env.api() as client:
        no_key = client.post("/v1/jobs", json={"kind": "echo"})
        wrong_key = client.post(
            "/v1/jobs", json={"kind": "echo"}, headers={"Authorization": "Bearer nope"}
        )
        too_big = client.post(
            "/v1/jobs", json={"kind": "echo", "input": {"blob": "x" * limit}},
            headers=sluice_env.auth(),
        )
        chunked = client.post(
            "/v1/jobs", content=iter([b'{"kind": "echo", "input": {"b": "', b"x" * limit, b'"}}']),
            headers={**sluice_env.auth(), "Content-Type": "application/json"},
        )
        no_kind = client.post("/v1/jobs", json={"input": {}}, headers=sluice_env.auth())
        unknown_kind = client.post("/v1/jobs", json={"kind": "nope"}, headers=sluice_env.auth())
        json_header = {**sluice_env.auth(), "Content-Type": "application/json"}
        not_json = client.post("/v1/jobs", content=b"{", headers=json_header)
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"
    assert wrong_key.status_code == 403
    assert too_big.status_code == 413
    assert chunked.status_code == 413
    assert no_kind.status_code == 422
    assert no_kind.json()["errors"][0]["loc"] == ["body", "kind"]
    assert unknown_kind.status_code == 422 and "unknown job kind" in unknown_kind.text
    assert not_json.status_code == 422
    assert sluice_env.store.count(JobQuery()) == 0
    assert queued_messages(sluice_env) == 0


def test_reading_jobs_needs_a_key_too(sluice_env: SluiceEnv) -> None:
    with sluice_env.api() as client:
        assert client.get("/v1/jobs").status_code == 401
        assert client.get("/v1/jobs/x").status_code == 401


def test_health_ready_and_docs_need_no_key(sluice_env: SluiceEnv) -> None:
    with sluice_env.api() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["broker"] == "ok" and ready.json()["store"] == "ok"
        assert client.get("/docs").status_code == 200
        assert "/v1/jobs" in client.get("/openapi.json").json()["paths"]


def test_readyz_reports_an_unreachable_broker(sluice_env: SluiceEnv) -> None:
    from fastapi.testclient import TestClient

    from producers.api.app import create_app

    settings = sluice_env.settings.model_copy(
        update={"broker_url": "redis+socket:///nonexistent/redis.sock"}
    )
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["broker"].startswith("unreachable")
    assert JobStatus.QUEUED  # the store side stays usable
