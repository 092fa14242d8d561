"""The OpenAPI tells the truth: every operation has an id, a success answer with a schema or
an event stream, and declares the errors it can answer, each as RFC 9457 problem details."""

from __future__ import annotations

from typing import Any

import pytest

from producers.api.app import create_app
from sluice._version import __version__
from tests.conftest import SluiceEnv

PUBLIC = {"/healthz", "/readyz"}
STREAMS = {("get", "/v1/jobs/{job_id}/events"), ("post", "/v1/ask/stream"),
           ("get", "/v1/ask/{job_id}/stream")}


@pytest.fixture
def spec(sluice_env: SluiceEnv) -> dict[str, Any]:
    return create_app(sluice_env.settings).openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, operation) for path, item in spec["paths"].items()
            for method, operation in item.items()]


def test_every_operation_is_named_and_versioned(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids)) and all("_v1_" not in name for name in ids)
    assert spec["info"]["version"] == __version__


def test_every_success_has_a_schema_or_is_an_event_stream(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        successes = {code: answer for code, answer in operation["responses"].items()
                     if code.startswith("2") and code != "204"}
        assert successes, (method, path)
        for answer in successes.values():
            content = answer["content"]
            if (method, path) in STREAMS:
                assert list(content) == ["text/event-stream"], (method, path)
            else:
                assert content["application/json"]["schema"], (method, path)


def test_every_error_is_declared_as_a_problem(spec: dict[str, Any]) -> None:
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) >= {
        "type", "title", "status", "detail", "errors"}
    for method, path, operation in _operations(spec):
        codes = set(operation["responses"])
        if path not in PUBLIC and path != "/metrics":
            assert {"401", "403", "422"} <= codes, (method, path)
        if "{" in path and path not in PUBLIC:
            assert "404" in codes, (method, path)
        if method in ("post", "put", "patch"):
            assert {"400", "413"} <= codes, (method, path)
        for code, answer in operation["responses"].items():
            if int(code) >= 400 and path != "/readyz":
                assert list(answer["content"]) == ["application/problem+json"], (method, path)


def test_an_error_answer_is_problem_details(sluice_env: SluiceEnv) -> None:
    client = sluice_env.api()
    missing = client.get("/v1/jobs/nope", headers=sluice_env.auth())
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {"type": "about:blank", "title": "Not Found", "status": 404,
                              "detail": missing.json()["detail"]}
    invalid = client.post("/v1/jobs", headers=sluice_env.auth(), json={"kind": ""})
    body = invalid.json()
    assert invalid.status_code == 422 and body["status"] == 422
    assert body["errors"][0]["loc"] == ["body", "kind"]
    unauthenticated = client.get("/v1/jobs")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == "Bearer"


def test_search_and_ask_declare_the_retrieval_options(spec: dict[str, Any]) -> None:
    search = spec["paths"]["/v1/search"]["get"]
    params = {param["name"]: param for param in search["parameters"]}
    ask_ref = spec["paths"]["/v1/ask"]["post"]["requestBody"]["content"]["application/json"]
    ask = spec["components"]["schemas"][ask_ref["schema"]["$ref"].rsplit("/", 1)[-1]]

    assert {"mode", "rerank", "expand", "self_query"} <= set(params)
    assert "hybrid" in str(params["mode"]["schema"])
    assert params["expand"]["schema"]["maximum"] == 5
    assert {"mode", "rerank", "expand", "self_query"} <= set(ask["properties"])
    assert "sparse" in str(ask["properties"]["mode"])
