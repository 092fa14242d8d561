"""A client cannot take the idempotency keys Sluice uses inside itself.

Each test first has a client take an internal key through ``POST /v1/jobs`` (which any key
could, before client keys were namespaced per tenant), then runs the internal step that
needs the key: it must work as if the client had done nothing. A key taken before the
namespaces existed (stored bare) is met too: handled before any state change, never a 500.
"""

from __future__ import annotations

from pathlib import Path

from libs.dead_letter import actions as dead_letter
from libs.documents.warehouse import open_documents
from libs.sinks.push import DELIVER_KIND, delivery_key, push_to_sinks
from producers.email.intake import EmailIntake, IntakeStatus, idempotency_key
from schemas.job import DeadReason, Job, JobStatus
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import TICKET_TEXT, VALID_TICKET

EMAIL = Path(__file__).resolve().parents[1] / "fixtures" / "email" / "plain_reply.eml"


def put_dead(env: SluiceEnv) -> Job:
    job, _ = env.store.create(Job(
        kind="extract", input={"schema": "support_ticket", "text": TICKET_TEXT},
        status=JobStatus.DEAD, reason=DeadReason.EXHAUSTED, schema_name="support_ticket",
        schema_version=1, error_signature="order_id:not_in_source",
    ))
    return job


def squat(env: SluiceEnv, key: str, kind: str = "echo", input: dict | None = None) -> dict:
    response = env.api().post("/v1/jobs", headers=env.auth(), json={
        "kind": kind, "input": input or {"squatting": True}, "idempotency_key": key})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_squatted_sink_key_does_not_break_a_resolve(sluice_env: SluiceEnv) -> None:
    dead = put_dead(sluice_env)
    squatter = squat(sluice_env, delivery_key(dead.id, "records"))
    response = sluice_env.api().post(f"/v1/dlq/{dead.id}/resolve", headers=sluice_env.auth(),
                                     json={"record": VALID_TICKET})
    assert response.status_code == 200, response.text
    resolved = sluice_env.store.get(dead.id)
    assert resolved.status is JobStatus.RESOLVED and resolved.result == VALID_TICKET
    delivery = sluice_env.store.get(resolved.sink_deliveries["records"].delivery_job)
    assert delivery.id != squatter["id"]
    assert delivery.kind == DELIVER_KIND and delivery.input["record"] == VALID_TICKET


def test_a_squatted_sink_key_does_not_kill_a_valid_extraction(sluice_env: SluiceEnv) -> None:
    job, _ = sluice_env.store.create(Job(kind="extract", input={"schema": "support_ticket"},
                                         schema_name="support_ticket", schema_version=1))
    squat(sluice_env, delivery_key(job.id, "records"))
    pushed = push_to_sinks(sluice_env.store, sluice_env.celery, sluice_env.settings, job,
                           VALID_TICKET)
    delivery = sluice_env.store.get(pushed.sink_deliveries["records"].delivery_job)
    assert delivery.kind == DELIVER_KIND and delivery.input["record"] == VALID_TICKET


def test_a_squatted_email_key_does_not_drop_the_email(sluice_env: SluiceEnv) -> None:
    squat(sluice_env, idempotency_key("support_ticket", "mid:reply-5521@example.com"),
          kind="extract", input={"schema": "support_ticket", "text": "not the email"})
    documents = open_documents(sluice_env.settings)
    try:
        intake = EmailIntake(settings=sluice_env.settings, store=sluice_env.store,
                             celery=sluice_env.celery, documents=documents)
        outcome = intake.ingest(EMAIL.read_bytes(), schema="support_ticket")
    finally:
        documents.close()
    assert outcome.status is IntakeStatus.QUEUED
    job = sluice_env.store.get(outcome.job_id)
    assert job.input["doc_id"] == "mid:reply-5521@example.com"


def test_an_email_key_taken_before_namespaces_does_not_drop_the_email(
    sluice_env: SluiceEnv,
) -> None:
    key = idempotency_key("support_ticket", "mid:reply-5521@example.com")
    taken, _ = sluice_env.store.create(Job(kind="extract", input={"text": "not the email"},
                                           idempotency_key=key))
    documents = open_documents(sluice_env.settings)
    try:
        intake = EmailIntake(settings=sluice_env.settings, store=sluice_env.store,
                             celery=sluice_env.celery, documents=documents)
        first = intake.ingest(EMAIL.read_bytes(), schema="support_ticket")
        again = intake.ingest(EMAIL.read_bytes(), schema="support_ticket")
    finally:
        documents.close()
    assert first.status is IntakeStatus.QUEUED and first.job_id != taken.id
    assert again.status is IntakeStatus.DUPLICATE and again.job_id == first.job_id
    assert sluice_env.store.get(first.job_id).input["doc_id"] == "mid:reply-5521@example.com"


def test_a_squatted_redrive_key_does_not_hijack_a_requeue(sluice_env: SluiceEnv) -> None:
    dead = put_dead(sluice_env)
    squatter = squat(sluice_env, f"redrive:{dead.id}:{dead.version}", kind="extract",
                     input=dead.input)
    response = sluice_env.api().post(f"/v1/dlq/{dead.id}/requeue", headers=sluice_env.auth(),
                                     json={})
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["id"] != squatter["id"] and new["redriven_from"] == dead.id
    assert sluice_env.store.get(dead.id).redriven_to == new["id"]


def test_a_bare_key_taken_before_namespaces_is_refused_before_any_change(
    sluice_env: SluiceEnv,
) -> None:
    store = sluice_env.store
    dead = put_dead(sluice_env)
    store.create(Job(kind="extract", input=dead.input,
                     idempotency_key=f"redrive:{dead.id}:{dead.version}"))
    response = sluice_env.api().post(f"/v1/dlq/{dead.id}/requeue", headers=sluice_env.auth(),
                                     json={})
    assert response.status_code == 409, response.text
    assert store.get(dead.id).status is JobStatus.DEAD
    assert store.count(JobQuery(fields=(("redriven_from", dead.id),))) == 0

    # A bare sink key: the delivery goes under a key naming the record, once.
    store.create(Job(kind="echo", idempotency_key=delivery_key(dead.id, "records")))
    resolved = dead_letter.resolve(store, sluice_env.celery, sluice_env.settings, dead.id,
                                   VALID_TICKET)
    again = push_to_sinks(store, sluice_env.celery, sluice_env.settings, resolved,
                          VALID_TICKET)
    delivery = store.get(again.sink_deliveries["records"].delivery_job)
    assert delivery.kind == DELIVER_KIND and delivery.input["record"] == VALID_TICKET
    assert store.count(JobQuery(kind=DELIVER_KIND)) == 1
