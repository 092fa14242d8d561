"""Two tenants on one API, over real HTTP: every route either hides the other tenant's
objects (404, never 403), lists only the caller's own, or is refused without its scope.

The route table below is checked against the app's routes, so a new route without a case
here fails :func:`test_every_route_has_a_tenant_case`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.routing import APIRoute

from cli.embedded_redis import EmbeddedRedis
from libs.access.keys import add_key
from schemas.job import DeadReason, Job, JobStatus
from schemas.principal import Scope
from tests.conftest import API_KEY, SluiceEnv, make_env
from tests.support.extraction_cases import TICKET_TEXT, VALID_TICKET
from tests.support.live_api import LiveAPI
from tests.support.sse import events

TENANT_SCOPES = [Scope.JOBS_SUBMIT, Scope.JOBS_READ, Scope.DLQ_ACT, Scope.DOCUMENTS_WRITE]
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}


@dataclass
class Tenants:
    env: SluiceEnv
    url: str
    keys: dict[str, str]  # name -> bearer key
    key_ids: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.keys[who]}"})


@pytest.fixture
def tenants(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Tenants]:
    from producers.api.app import create_app

    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    keys_file = tmp_path / "keys.jsonl"
    keys: dict[str, str] = {}
    key_ids: dict[str, str] = {}
    for name, tenant, scopes in [
        ("acme", "acme", TENANT_SCOPES),
        ("globex", "globex", TENANT_SCOPES),
        ("acme-reader", "acme", [Scope.JOBS_READ]),
        ("ops", "default", [Scope.OPS_READ]),
    ]:
        keys[name], entry = add_key(keys_file, tenant=tenant, scopes=scopes, key_id=name)
        key_ids[name] = entry.id
    env = make_env(tmp_path, redis_server.url, api_keys_file=str(keys_file),
                   ask_wait_seconds=0.3)
    keys["legacy"] = API_KEY
    with LiveAPI(create_app(env.settings)) as api:
        yield Tenants(env, api.url, keys, key_ids)
    env.store.close()


def put_dead(env: SluiceEnv, tenant: str) -> Job:
    job, _ = env.store.create(Job(
        kind="extract", input={"schema": "support_ticket", "text": TICKET_TEXT},
        status=JobStatus.DEAD, reason=DeadReason.EXHAUSTED, schema_name="support_ticket",
        schema_version=1, error_signature="order_id:not_in_source", tenant=tenant,
        api_key_id=tenant,
    ))
    return job


@dataclass
class AcmeObjects:
    job: Job
    dead: Job
    ask: Job
    document_id: str


def acme_objects(tenants: Tenants) -> AcmeObjects:
    acme = tenants.client("acme")
    created = acme.post("/v1/jobs", json={"kind": "echo", "input": {"n": 1},
                                          "idempotency_key": "shared"})
    assert created.status_code == 201, created.text
    asked = acme.post("/v1/ask", json={"question": "q?", "idempotency_key": "shared-ask"})
    assert asked.status_code == 504, asked.text  # no worker: the job waits
    posted = acme.post("/v1/documents", json={"source": "s", "doc_id": "d", "content": "x"})
    assert posted.status_code == 201, posted.text
    store = tenants.env.store
    return AcmeObjects(
        job=store.get(created.json()["id"]),
        dead=put_dead(tenants.env, "acme"),
        ask=store.get(asked.json()["job_id"]),
        document_id=posted.json()["document"]["id"],
    )


# Routes that name one object: the other tenant gets 404, exactly as for a missing id.
def object_requests(acme: AcmeObjects) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        ("GET", "/v1/jobs/{job_id}"): {"url": f"/v1/jobs/{acme.job.id}"},
        ("POST", "/v1/jobs/{job_id}/cancel"): {"url": f"/v1/jobs/{acme.job.id}/cancel"},
        ("GET", "/v1/jobs/{job_id}/events"): {"url": f"/v1/jobs/{acme.job.id}/events"},
        ("GET", "/v1/traces/{job_id}"): {"url": f"/v1/traces/{acme.job.id}"},
        ("GET", "/v1/dlq/{job_id}"): {"url": f"/v1/dlq/{acme.dead.id}"},
        ("POST", "/v1/dlq/{job_id}/requeue"): {"url": f"/v1/dlq/{acme.dead.id}/requeue",
                                               "json": {"hint": "h"}},
        ("POST", "/v1/dlq/{job_id}/discard"): {"url": f"/v1/dlq/{acme.dead.id}/discard",
                                               "json": {"reason": "spam"}},
        ("POST", "/v1/dlq/{job_id}/resolve"): {"url": f"/v1/dlq/{acme.dead.id}/resolve",
                                               "json": {"record": VALID_TICKET}},
        ("GET", "/v1/ask/{job_id}/stream"): {"url": f"/v1/ask/{acme.ask.id}/stream"},
        ("GET", "/v1/documents/{document_id}"): {"url": f"/v1/documents/{acme.document_id}"},
        ("DELETE", "/v1/documents/{document_id}"): {
            "url": f"/v1/documents/{acme.document_id}"},
        # Replacing acme's (source, doc_id) is refused like reading it.
        ("POST", "/v1/documents"): {
            "url": "/v1/documents", "json": {"source": "s", "doc_id": "d", "content": "y"}},
    }


# Listings and sums: the other tenant's objects are simply not in them.
LISTINGS = {
    ("GET", "/v1/jobs"), ("GET", "/v1/dlq"), ("GET", "/v1/traces"), ("GET", "/v1/stats"),
    ("GET", "/v1/stats/extraction"),
}
# Submissions that could find an existing job by idempotency key: never the other tenant's.
SUBMISSIONS = {("POST", "/v1/jobs"), ("POST", "/v1/jobs:batch"), ("POST", "/v1/ask"),
               ("POST", "/v1/ask/stream"), ("GET", "/v1/search")}
# Not tenant data: operators and admins only.
OPERATOR_ONLY = {("GET", "/v1/batches"), ("GET", "/v1/batches/{run_id}")}
ADMIN_ONLY = {("GET", "/v1/admin/llm"), ("POST", "/v1/admin/llm/pause"),
              ("POST", "/v1/admin/llm/resume"), ("POST", "/v1/admin/erasures")}


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, whatever router included it."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.update((method, route.path) for method in route.methods - {"HEAD"})
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes)

    walk(app.router.routes)
    return found


def test_every_route_has_a_tenant_case(tenants: Tenants) -> None:
    from producers.api.app import create_app

    fake = AcmeObjects(Job(kind="x"), Job(kind="x"), Job(kind="x"), "d")
    covered = (set(object_requests(fake)) | LISTINGS | SUBMISSIONS | OPERATOR_ONLY
               | ADMIN_ONLY | PUBLIC)
    assert api_routes(create_app(tenants.env.settings)) == covered


def test_the_other_tenants_objects_are_404_on_every_route_and_nothing_changes(
    tenants: Tenants,
) -> None:
    acme = acme_objects(tenants)
    before = {job.id: tenants.env.store.get(job.id).version
              for job in (acme.job, acme.dead, acme.ask)}
    globex = tenants.client("globex")
    for (method, route), request in object_requests(acme).items():
        response = globex.request(method, request["url"], json=request.get("json"))
        assert response.status_code == 404, (method, route, response.text)
        # Worded as for a missing object: nothing of the job or its tenant.
        assert response.json()["detail"].startswith("no "), (method, route, response.text)
        assert "acme" not in response.text and "tenant" not in response.text
    after = {job_id: tenants.env.store.get(job_id).version for job_id in before}
    assert after == before
    owned = tenants.client("acme")
    assert owned.get(f"/v1/documents/{acme.document_id}").json()["content"] == "x"
    assert owned.get(f"/v1/jobs/{acme.job.id}").status_code == 200
    assert owned.get(f"/v1/dlq/{acme.dead.id}").json()["status"] == "dead"


def test_listings_and_stats_show_only_the_callers_tenant(tenants: Tenants) -> None:
    acme = acme_objects(tenants)
    globex = tenants.client("globex")
    mine = globex.post("/v1/jobs", json={"kind": "echo", "input": {"n": 2}}).json()
    acme_ids = {acme.job.id, acme.dead.id, acme.ask.id}
    for path in ("/v1/jobs", "/v1/dlq", "/v1/traces"):
        response = globex.get(path)
        assert response.status_code == 200, (path, response.text)
        listed = {item.get("id") or item.get("job_id") for item in response.json()["items"]}
        assert not listed & acme_ids, path
    assert {job["id"] for job in globex.get("/v1/jobs").json()["items"]} == {mine["id"]}
    assert globex.get("/v1/stats").json()["jobs"] == 1
    assert globex.get("/v1/stats/extraction").json()["jobs_considered"] == 0
    acme_stats = tenants.client("acme").get("/v1/stats/extraction").json()
    assert acme_stats["jobs_considered"] == 1
    # Operators see every tenant.
    everything = {job["id"] for job in tenants.client("ops").get("/v1/jobs").json()["items"]}
    assert acme_ids | {mine["id"]} <= everything


def test_an_idempotency_key_is_the_callers_own(tenants: Tenants) -> None:
    acme = acme_objects(tenants)
    globex = tenants.client("globex")
    same = globex.post("/v1/jobs", json={"kind": "echo", "input": {"n": 1},
                                         "idempotency_key": "shared"})
    assert same.status_code == 201 and same.json()["id"] != acme.job.id
    assert same.json()["tenant"] == "globex"
    asked = globex.post("/v1/ask", json={"question": "q?", "idempotency_key": "shared-ask"})
    assert asked.status_code == 504 and asked.json()["job_id"] != acme.ask.id
    searched = globex.get("/v1/search", params={"q": "anything"})
    assert searched.status_code == 504
    assert tenants.env.store.get(searched.json()["job_id"]).tenant == "globex"
    with globex.stream("POST", "/v1/ask/stream",
                       json={"question": "q?", "idempotency_key": "shared-ask"}) as response:
        assert response.status_code == 200
        first = next(events(response))
    streamed = tenants.env.store.get(first.data["job_id"])
    assert streamed.id != acme.ask.id and streamed.tenant == "globex"


def test_operator_and_admin_routes_need_their_scope(tenants: Tenants) -> None:
    globex, ops = tenants.client("globex"), tenants.client("ops")
    for method, path in OPERATOR_ONLY | ADMIN_ONLY:
        url = path.replace("{run_id}", "no-such-run")
        assert globex.request(method, url).status_code == 403, (method, path)
    assert ops.get("/v1/batches").status_code == 200
    assert ops.get("/v1/admin/llm").status_code == 403


def test_a_missing_scope_is_403_on_the_callers_own_objects(tenants: Tenants) -> None:
    acme = acme_objects(tenants)
    reader = tenants.client("acme-reader")
    assert reader.get(f"/v1/jobs/{acme.job.id}").status_code == 200
    assert reader.get(f"/v1/dlq/{acme.dead.id}").status_code == 200
    refused = [
        reader.post("/v1/jobs", json={"kind": "echo"}),
        reader.post(f"/v1/jobs/{acme.job.id}/cancel"),
        reader.post(f"/v1/dlq/{acme.dead.id}/discard", json={"reason": "x"}),
        reader.post("/v1/documents", json={"source": "s", "doc_id": "e", "content": "x"}),
        reader.delete(f"/v1/documents/{acme.document_id}"),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert tenants.env.store.get(acme.dead.id).status is JobStatus.DEAD


def test_the_dlq_actor_is_the_callers_key_never_the_body(tenants: Tenants) -> None:
    from datetime import timedelta

    from libs.dead_letter import claims

    env = tenants.env
    acme = tenants.client("acme")
    claimed = put_dead(env, "acme")
    claims.claim(env.store, claimed.id, "ann", lease=timedelta(minutes=15))
    # Claiming to be the reviewer who holds the claim does not make a caller that reviewer.
    forged = acme.post(f"/v1/dlq/{claimed.id}/discard", json={"reason": "x", "by": "ann"})
    assert forged.status_code == 409
    assert env.store.get(claimed.id).status is JobStatus.CLAIMED
    dead = put_dead(env, "acme")
    done = acme.post(f"/v1/dlq/{dead.id}/discard", json={"reason": "spam", "by": "ann"})
    assert done.status_code == 200, done.text
    assert done.json()["audit"][-1]["by"] == f"api-key:{tenants.key_ids['acme']}"


def test_a_requeue_keeps_the_tenant_and_the_api_key(tenants: Tenants) -> None:
    dead = put_dead(tenants.env, "acme")
    response = tenants.client("acme").post(f"/v1/dlq/{dead.id}/requeue", json={"hint": "h"})
    assert response.status_code == 201, response.text
    new = tenants.env.store.get(response.json()["id"])
    assert (new.tenant, new.api_key_id, new.redriven_from) == ("acme", "acme", dead.id)


def test_plain_keys_are_the_default_tenant_with_full_access(tenants: Tenants) -> None:
    legacy = tenants.client("legacy")
    created = legacy.post("/v1/jobs", json={"kind": "echo"})
    assert created.status_code == 201 and created.json()["tenant"] == "default"
    assert legacy.get("/v1/admin/llm").status_code == 403
    assert tenants.client("acme").get(f"/v1/jobs/{created.json()['id']}").status_code == 404
