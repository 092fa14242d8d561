"""Inputs are checked against their kind's model at the door; internal kinds stay internal.

Each case here was accepted before: a malformed ``extract`` input got 201 and then a dead
job, and a dead ``sink.deliver`` re-run with a chosen input wrote a forged record under
another job's id.
"""

from __future__ import annotations

from schemas.job import DeadReason, Job, JobStatus
from sluice.stores.base import JobQuery
from tests.conftest import SluiceEnv, make_env
from tests.support.extraction_cases import TICKET_TEXT


def _jobs(env: SluiceEnv) -> list[Job]:
    return env.store.list_jobs(JobQuery(), limit=100).items


def test_a_malformed_input_is_422_with_field_errors_and_nothing_stored(
    sluice_env: SluiceEnv,
) -> None:
    client, auth = sluice_env.api(), sluice_env.auth()
    missing = client.post("/v1/jobs", headers=auth,
                          json={"kind": "extract", "input": {"text": TICKET_TEXT}})
    assert missing.status_code == 422
    assert ["body", "input", "schema"] in [error["loc"] for error in missing.json()["errors"]]
    both = client.post("/v1/jobs", headers=auth, json={
        "kind": "extract", "input": {"schema": "support_ticket", "text": "x", "email": "y"}})
    assert both.status_code == 422
    assert _jobs(sluice_env) == []


def test_internal_kinds_cannot_be_submitted(sluice_env: SluiceEnv) -> None:
    client, auth = sluice_env.api(), sluice_env.auth()
    forged = {"job_id": "someone-elses-job", "sink": "records", "record": {"forged": True}}
    for kind in ("sink.deliver", "vectors.switch_alias", "batch.start", "email.poll",
                 "sluice.callback"):
        response = client.post("/v1/jobs", headers=auth, json={"kind": kind, "input": forged})
        assert response.status_code == 422, kind
    assert _jobs(sluice_env) == []


def test_an_internal_kind_is_never_requeued_with_an_edited_input(sluice_env: SluiceEnv) -> None:
    dead, _ = sluice_env.store.create(Job(
        kind="sink.deliver", status=JobStatus.DEAD, reason=DeadReason.EXHAUSTED,
        input={"job_id": "source-1", "sink": "records", "record": {"order_id": "A-1"}},
    ))
    client, auth = sluice_env.api(), sluice_env.auth()
    forged = {"job_id": "victim-job", "sink": "records", "record": {"forged": True}}
    response = client.post(f"/v1/dlq/{dead.id}/requeue", headers=auth, json={"input": forged})
    assert response.status_code == 422
    assert sluice_env.store.get(dead.id).status is JobStatus.DEAD
    assert [job.id for job in _jobs(sluice_env)] == [dead.id]
    # Re-running it as it was is still allowed.
    again = client.post(f"/v1/dlq/{dead.id}/requeue", headers=auth, json={})
    assert again.status_code == 201 and again.json()["input"]["job_id"] == "source-1"


def test_an_edited_input_on_requeue_is_held_to_the_kinds_model(sluice_env: SluiceEnv) -> None:
    dead, _ = sluice_env.store.create(Job(
        kind="extract", status=JobStatus.DEAD, reason=DeadReason.EXHAUSTED,
        input={"schema": "support_ticket", "text": TICKET_TEXT},
    ))
    client, auth = sluice_env.api(), sluice_env.auth()
    response = client.post(f"/v1/dlq/{dead.id}/requeue", headers=auth,
                           json={"input": {"schema": "support_ticket"}})
    assert response.status_code == 422
    assert sluice_env.store.get(dead.id).status is JobStatus.DEAD


def test_per_job_overrides_above_the_settings_need_the_admin_scope(
    sluice_env: SluiceEnv,
) -> None:
    client, auth = sluice_env.api(), sluice_env.auth()
    settings = sluice_env.settings
    base = {"schema": "support_ticket", "text": TICKET_TEXT}
    greedy = {**base, "budget": {"tokens": settings.extract_max_tokens * 10},
              "max_tokens": settings.extract_completion_tokens * 8, "model": "gpt-huge"}
    refused = client.post("/v1/jobs", headers=auth, json={"kind": "extract", "input": greedy})
    assert refused.status_code == 422
    assert {tuple(error["loc"][2:]) for error in refused.json()["errors"]} == {
        ("budget", "tokens"), ("max_tokens",), ("model",)}
    assert _jobs(sluice_env) == []
    thrifty = {**base, "budget": {"tokens": 1000}, "max_tokens": 64}
    assert client.post("/v1/jobs", headers=auth,
                       json={"kind": "extract", "input": thrifty}).status_code == 201
    admin = make_env(sluice_env.tmp / "admin", sluice_env.settings.broker_url or "",
                     admin_api_keys="admin-key")
    allowed = admin.api().post("/v1/jobs", headers={"Authorization": "Bearer admin-key"},
                               json={"kind": "extract", "input": greedy})
    assert allowed.status_code == 201
    admin.store.close()
