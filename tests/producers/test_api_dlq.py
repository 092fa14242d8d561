"""The dead-letter queue over HTTP, and the extraction figures."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from libs.dead_letter import claims
from schemas.job import DeadReason, Job, JobStatus
from sluice.client import SluiceClient
from sluice.stores.base import JobQuery
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import TICKET_TEXT, VALID_TICKET


def put_dead(env: SluiceEnv, signature: str, reason: DeadReason = DeadReason.EXHAUSTED,
             schema: str = "support_ticket") -> Job:
    job, _ = env.store.create(Job(
        kind="extract", input={"schema": schema, "text": TICKET_TEXT}, status=JobStatus.DEAD,
        reason=reason, schema_name=schema, schema_version=1, error_signature=signature,
        attempts=[
            {"number": 1, "outcome": "invalid", "model": "m", "mode": "json_object_schema",
             "prompt_tokens": 100, "completion_tokens": 20},
        ],
    ))
    return job


def test_list_filters_by_reason_schema_and_signature(sluice_env: SluiceEnv) -> None:
    a = put_dead(sluice_env, "order_id:not_in_source")
    b = put_dead(sluice_env, "$:parse_error", DeadReason.BUDGET)
    put_dead(sluice_env, "x:y", schema="invoice")
    client, auth = sluice_env.api(), sluice_env.auth()
    assert client.get("/v1/dlq").status_code == 401
    page = client.get("/v1/dlq", headers=auth, params={"schema": "support_ticket"}).json()
    assert {job["id"] for job in page["items"]} == {a.id, b.id}
    page = client.get("/v1/dlq", headers=auth, params={"signature": "order_id:not_in_source"})
    assert [job["id"] for job in page.json()["items"]] == [a.id]
    page = client.get("/v1/dlq", headers=auth, params={"reason": "budget"})
    assert [job["id"] for job in page.json()["items"]] == [b.id]
    first = client.get("/v1/dlq", headers=auth, params={"limit": 2}).json()
    rest = client.get("/v1/dlq", headers=auth,
                      params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(first["items"]) + len(rest["items"]) == 3
    assert client.get(f"/v1/dlq/{a.id}", headers=auth).json()["attempts"][0]["number"] == 1


def test_resolve_refuses_an_invalid_record_with_422_field_errors(sluice_env: SluiceEnv) -> None:
    job = put_dead(sluice_env, "order_id:string_pattern_mismatch")
    client, auth = sluice_env.api(), sluice_env.auth()
    response = client.post(f"/v1/dlq/{job.id}/resolve", headers=auth,
                           json={"record": {**VALID_TICKET, "order_id": "1"}})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "record", "order_id"]
    assert error["type"] == "string_pattern_mismatch"
    response = client.post(f"/v1/dlq/{job.id}/resolve", headers=auth,
                           json={"record": VALID_TICKET, "by": "ana"})
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["result"] == VALID_TICKET
    conflict = client.post(f"/v1/dlq/{job.id}/discard", headers=auth, json={"reason": "x"})
    assert conflict.status_code == 409


def test_requeue_and_discard(sluice_env: SluiceEnv) -> None:
    first, second = put_dead(sluice_env, "a:b"), put_dead(sluice_env, "a:b")
    client, auth = sluice_env.api(), sluice_env.auth()
    response = client.post(f"/v1/dlq/{first.id}/requeue", headers=auth,
                           json={"hint": "order 48213"})
    assert response.status_code == 201
    new = response.json()
    assert new["redriven_from"] == first.id and new["input"]["reviewer_hint"] == "order 48213"
    assert client.get(f"/v1/dlq/{first.id}", headers=auth).json()["status"] == "requeued"
    assert client.post(f"/v1/dlq/{second.id}/discard", headers=auth, json={}).status_code == 422
    done = client.post(f"/v1/dlq/{second.id}/discard", headers=auth, json={"reason": "spam"})
    assert done.json()["status"] == "discarded"
    assert client.get("/v1/dlq", headers=auth).json()["items"] == []
    assert client.get(f"/v1/dlq/{new['id']}", headers=auth).status_code == 404


def test_extraction_stats_per_schema_model_and_mode(sluice_env: SluiceEnv) -> None:
    def attempt(number: int, outcome: str) -> dict[str, object]:
        return {"number": number, "outcome": outcome, "model": "m", "mode": "json_object_schema",
                "prompt_tokens": 100, "completion_tokens": 50}

    store = sluice_env.store
    sample = {**attempt(3, "valid"), "sample": True, "prompt_tokens": 0, "completion_tokens": 30}
    for attempts in ([attempt(1, "valid")], [attempt(1, "invalid"), attempt(2, "valid"), sample]):
        store.create(Job(kind="extract", input={"schema": "support_ticket"},
                         status=JobStatus.SUCCEEDED, schema_name="support_ticket",
                         attempts=attempts))
    put_dead(sluice_env, "order_id:not_in_source")
    stats = sluice_env.api().get("/v1/stats/extraction", headers=sluice_env.auth()).json()
    [group] = stats["groups"]
    assert (group["schema_name"], group["model"], group["mode"]) == (
        "support_ticket", "m", "json_object_schema")
    assert group["jobs"] == 3
    assert group["first_pass_valid_rate"] == round(1 / 3, 4)
    assert group["success_by_attempt"] == {"1": 1, "2": 1}
    assert group["tokens"] == 3 * 150 + 120 + 30  # an agreement sample's tokens count
    assert group["tokens_per_accepted_record"] == (3 * 150 + 120 + 30) / 2
    assert group["attempts"] == 4  # it is not an attempt
    assert group["dlq_rate"] == round(1 / 3, 4)
    assert group["top_error_signatures"] == [{"signature": "order_id:not_in_source", "count": 1}]


def test_the_cli_lists_shows_and_acts_through_the_api(
    sluice_env: SluiceEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    first = put_dead(sluice_env, "order_id:not_in_source")
    second = put_dead(sluice_env, "$:parse_error")
    client = sluice_env.api()
    client.headers.update(sluice_env.auth())
    # The CLI's one client, sent through the in-process app.
    monkeypatch.setattr("cli.client.api_client", lambda settings: SluiceClient(http=client))
    runner = CliRunner()

    listed = runner.invoke(app, ["dlq", "list", "--signature", "order_id:not_in_source",
                                 "--json"])
    assert listed.exit_code == 0, listed.output
    assert [job["id"] for job in json.loads(listed.output)["items"]] == [first.id]
    shown = runner.invoke(app, ["dlq", "show", first.id])
    assert json.loads(shown.output)["error_signature"] == "order_id:not_in_source"

    bad = runner.invoke(app, ["dlq", "resolve", first.id, "--record", '{"order_id": "1"}'])
    assert bad.exit_code == 1 and "422" in bad.output
    record_file = tmp_path / "record.json"
    record_file.write_text(json.dumps(VALID_TICKET))
    resolved = runner.invoke(app, ["dlq", "resolve", first.id, "--record", f"@{record_file}"])
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(resolved.output)["status"] == "resolved"
    discarded = runner.invoke(app, ["dlq", "discard", second.id, "--reason", "duplicate"])
    assert discarded.output.strip() == f"{second.id}: discarded"


def test_an_item_a_reviewer_has_claimed_is_not_acted_on_through_the_api(
    sluice_env: SluiceEnv,
) -> None:
    job = put_dead(sluice_env, "order_id:not_in_source")
    claims.claim(sluice_env.store, job.id, "ann", lease=timedelta(minutes=15))
    client, auth = sluice_env.api(), sluice_env.auth()
    for action, body in [("resolve", {"record": VALID_TICKET, "by": "svc"}),
                         ("discard", {"reason": "spam", "by": "svc"}),
                         ("requeue", {"hint": "x", "by": "svc"})]:
        refused = client.post(f"/v1/dlq/{job.id}/{action}", headers=auth, json=body)
        assert refused.status_code == 409, (action, refused.text)
        assert "ann has claimed this item" in refused.json()["detail"]
    assert sluice_env.store.get(job.id).status is JobStatus.CLAIMED
    assert sluice_env.store.count(JobQuery()) == 1  # the refused requeue created no job

    # Once the lease lapses the item is anyone's again.
    claims.claim(sluice_env.store, job.id, "ann", lease=timedelta(seconds=-1))
    done = client.post(f"/v1/dlq/{job.id}/resolve", headers=auth,
                       json={"record": VALID_TICKET, "by": "svc"})
    assert done.status_code == 200 and done.json()["status"] == "resolved"


def test_extraction_stats_read_a_bounded_window(sluice_env: SluiceEnv) -> None:
    for index in range(3):
        put_dead(sluice_env, f"sig:{index}")
    client, auth = sluice_env.api(), sluice_env.auth()
    assert client.get("/v1/stats/extraction", headers=auth,
                      params={"limit": 100_000}).status_code == 422
    stats = client.get("/v1/stats/extraction", headers=auth, params={"limit": 2}).json()
    assert stats["jobs_considered"] == 2


def test_an_unverified_item_carries_the_acceptance_verdict(sluice_env: SluiceEnv) -> None:
    from libs.acceptance import SourceView, decide, field_rules, verify
    from schemas.support_ticket import SupportTicket

    view = SourceView.of(TICKET_TEXT, kind="text")
    rules = field_rules(SupportTicket)
    evidence = {"order_id": "placed on 2025-03-02"}
    checks = verify(VALID_TICKET, evidence, view, rules, None)
    verdict = decide(SupportTicket, VALID_TICKET, evidence, view, checks, rules)
    job = put_dead(sluice_env, "order_id:evidence_mismatch", DeadReason.UNVERIFIED)
    sluice_env.store.update_fields(job.id, acceptance=verdict)
    client, auth = sluice_env.api(), sluice_env.auth()
    page = client.get("/v1/dlq", headers=auth, params={"reason": "unverified"}).json()
    assert [item["id"] for item in page["items"]] == [job.id]
    for path in (f"/v1/dlq/{job.id}", f"/v1/jobs/{job.id}"):
        acceptance = client.get(path, headers=auth).json()["acceptance"]
        assert acceptance["accepted"] is False
        failed = {(c["field"], c["check"]) for c in acceptance["checks"] if not c["ok"]}
        assert ("order_id", "evidence_mismatch") in failed
        assert acceptance["source"] == TICKET_TEXT
        assert acceptance["regions"][0]["kind"] == "author"
