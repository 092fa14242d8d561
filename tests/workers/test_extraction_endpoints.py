"""Which endpoint and mode a worker uses: fallback order, and the probe on first use."""

from __future__ import annotations

import json
from typing import Any

from schemas.job import JobStatus
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import (
    extraction_env,
    settled,
    submit_extract,
    ticket,
    valid_reply,
)
from tests.support.scripted_llm import Reply, ScriptedLLM
from workers.extraction.probe import CANARY_VALUE


def test_an_unreachable_endpoint_falls_back_to_the_next_one(sluice_env: SluiceEnv) -> None:
    with ScriptedLLM() as llm, extraction_env(
        sluice_env, llm, llm_base_url="http://127.0.0.1:9/v1", llm_fallback_urls=llm.url
    ) as env:
        env.worker(queues="gpu,io", concurrency=1)
        llm.enqueue(valid_reply())
        job = settled(env, submit_extract(env).id)
    assert job.status is JobStatus.SUCCEEDED
    assert job.retries == 0
    assert job.attempts[0].endpoint == llm.url


def llama_cpp_like(body: dict[str, Any]) -> Reply:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return Reply(status=500, error_body={"error": {"message": "unsupported"}})
    if "sluice_canary" in json.dumps(fmt) or "canary" in json.dumps(fmt.get("schema", {})):
        return Reply(content=json.dumps({"canary": CANARY_VALUE}))
    return Reply(content=ticket(), prompt_tokens=100, completion_tokens=40)


def test_a_worker_probes_the_endpoint_once_and_uses_what_it_enforces(
    sluice_env: SluiceEnv,
) -> None:
    with ScriptedLLM(responder=llama_cpp_like) as llm, extraction_env(
        sluice_env, llm, llm_structured_mode="auto"
    ) as env:
        env.worker(queues="gpu,io", concurrency=1)
        first = settled(env, submit_extract(env).id)
        probes = len(llm.requests) - 1
        second = settled(env, submit_extract(env).id)
    assert first.status is second.status is JobStatus.SUCCEEDED
    assert first.attempts[0].mode == second.attempts[0].mode == "json_object_schema"
    assert probes == 2  # json_schema refused (HTTP 500), json_object + schema proven
    assert len(llm.requests) == probes + 2  # the second job probed nothing
    assert llm.requests[-1]["response_format"]["type"] == "json_object"
