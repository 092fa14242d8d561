"""The admin kill switch over HTTP, and per-key submission rate limits (429 + Retry-After)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from libs.llm import budget as llm_budget
from tests.conftest import API_KEY, SluiceEnv, make_env

ADMIN_KEY = "admin-key"


def client_with(sluice_env: SluiceEnv, **overrides: object) -> tuple[TestClient, SluiceEnv]:
    env = make_env(
        sluice_env.tmp / "other", str(sluice_env.settings.broker_url),
        api_keys=f"{API_KEY},{ADMIN_KEY},second-key", **overrides,
    )
    from producers.api.app import create_app

    return TestClient(create_app(env.settings)), env


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_only_admin_keys_may_pause_and_the_pause_is_fleet_wide(sluice_env: SluiceEnv) -> None:
    api, env = client_with(sluice_env, admin_api_keys=ADMIN_KEY)
    assert api.post("/v1/admin/llm/pause", json={}, headers=bearer(API_KEY)).status_code == 403
    assert api.post("/v1/admin/llm/pause", json={}).status_code == 401
    assert not llm_budget.is_paused(env.settings)

    paused = api.post("/v1/admin/llm/pause", json={"reason": "bill spike"},
                      headers=bearer(ADMIN_KEY))
    assert paused.status_code == 200
    assert paused.json()["paused"] is True and paused.json()["pause"]["reason"] == "bill spike"
    assert llm_budget.is_paused(sluice_env.settings)  # same Redis: every process sees it
    assert "sluice_llm_paused 1.0" in api.get("/metrics").text

    resumed = api.post("/v1/admin/llm/resume", headers=bearer(ADMIN_KEY))
    assert resumed.json()["paused"] is False
    assert not llm_budget.is_paused(sluice_env.settings)
    env.store.close()


def test_a_key_over_its_submission_rate_gets_429_with_retry_after(sluice_env: SluiceEnv) -> None:
    api, env = client_with(sluice_env, submit_rate_per_minute=60, submit_burst=3)
    body = {"kind": "echo", "input": {}}
    codes = [api.post("/v1/jobs", json=body, headers=bearer(API_KEY)).status_code
             for _ in range(3)]
    assert codes == [201, 201, 201]
    refused = api.post("/v1/jobs", json=body, headers=bearer(API_KEY))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    # Another key has its own bucket.
    assert api.post("/v1/jobs", json=body, headers=bearer("second-key")).status_code == 201
    env.store.close()


def test_submitted_jobs_carry_the_id_of_their_key_never_the_key(sluice_env: SluiceEnv) -> None:
    api = sluice_env.api()
    job = api.post("/v1/jobs", json={"kind": "echo", "input": {}}, headers=sluice_env.auth()).json()
    assert job["api_key_id"] and job["api_key_id"] != API_KEY
    assert API_KEY not in str(job)
