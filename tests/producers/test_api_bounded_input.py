"""Client JSON is bounded in depth at the door: a deep input is a 422 that stores nothing."""

from __future__ import annotations

import json
from typing import Any

from schemas.bounded_json import MAX_DEPTH, json_depth
from sluice.stores.base import JobQuery
from tests.conftest import SluiceEnv


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_json_depth_counts_objects_and_arrays_without_recursion() -> None:
    assert json_depth(1) == 0 and json_depth({}) == 1 and json_depth([[{}]]) == 3
    assert json_depth(_nested(5000)) == 5000


def test_an_input_nested_past_the_cap_is_422_and_nothing_is_stored(sluice_env: SluiceEnv) -> None:
    api = sluice_env.api()
    deep = api.post("/v1/jobs", headers=sluice_env.auth(),
                    json={"kind": "echo", "input": _nested(MAX_DEPTH + 1)})
    assert deep.status_code == 422
    assert deep.json()["errors"][0]["loc"][-1] == "input"
    assert sluice_env.store.list_jobs(JobQuery()).items == []

    # 230 levels in 1.2 KB once stored fine and then broke every listing and sweep.
    body = json.dumps({"kind": "echo", "input": _nested(230)})
    assert api.post("/v1/jobs", headers={**sluice_env.auth(), "content-type": "application/json"},
                    content=body).status_code == 422
    at_cap = api.post("/v1/jobs", headers=sluice_env.auth(),
                      json={"kind": "echo", "input": _nested(MAX_DEPTH)})
    assert at_cap.status_code == 201
    assert api.get("/v1/jobs", headers=sluice_env.auth()).status_code == 200


def test_a_deep_document_metadata_or_resolution_is_422(sluice_env: SluiceEnv) -> None:
    api = sluice_env.api()
    document = api.post("/v1/documents", headers=sluice_env.auth(), json={
        "source": "handbook", "content": "text", "metadata": _nested(MAX_DEPTH + 1)})
    assert document.status_code == 422
    resolve = api.post("/v1/dlq/no-such-job/resolve", headers=sluice_env.auth(),
                       json={"record": _nested(MAX_DEPTH + 1)})
    assert resolve.status_code == 422
