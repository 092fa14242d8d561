"""Probing what an endpoint really enforces, against servers that behave like real ones."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from libs.llm.chat import Endpoint, LLMUnavailable
from sluice.settings import Settings, load_settings
from tests.support.scripted_llm import Reply, ScriptedLLM
from workers.extraction import probe
from workers.extraction.probe import CANARY_VALUE, StructuredMode, endpoint_mode


def openai_like(body: dict[str, Any]) -> Reply:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return Reply(content=json.dumps({"canary": CANARY_VALUE}))
    return Reply(content='{"note": "anything"}')


def llama_cpp_like(body: dict[str, Any]) -> Reply:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return Reply(status=500, error_body={"error": {"message": "unsupported"}})
    if fmt.get("type") == "json_object" and "schema" in fmt:
        return Reply(content=json.dumps({"canary": CANARY_VALUE}))
    return Reply(content='{"note": "anything"}')


def json_object_only(body: dict[str, Any]) -> Reply:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return Reply(status=400, error_body={"error": {"message": "unknown response_format"}})
    return Reply(content='{"reply": "a JSON object, but not the canary"}')


def prompt_only(body: dict[str, Any]) -> Reply:
    if body.get("response_format"):
        return Reply(status=422, error_body={"error": {"message": "response_format?"}})
    return Reply(content="Sure, here is a JSON object: {}")


@pytest.fixture(autouse=True)
def forget_modes() -> Iterator[None]:
    probe.forget()
    yield
    probe.forget()


def settings_for(url: str, tmp_path: Path) -> Settings:
    return load_settings(llm_base_url=url, data_dir=str(tmp_path), llm_timeout_seconds=2)


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (openai_like, StructuredMode.JSON_SCHEMA),
        (llama_cpp_like, StructuredMode.JSON_OBJECT_SCHEMA),
        (json_object_only, StructuredMode.JSON_OBJECT),
        (prompt_only, StructuredMode.PROMPT),
    ],
)
def test_the_probe_finds_the_strongest_mode_the_endpoint_enforces(
    tmp_path: Path, server: Callable[[dict[str, Any]], Reply], expected: StructuredMode
) -> None:
    with ScriptedLLM(responder=server) as llm:
        settings = settings_for(llm.url, tmp_path)
        endpoint = Endpoint(llm.url, settings.llm_model)
        assert endpoint_mode(settings, endpoint) is expected
        # The canary value is never in the prompt: only an enforcing decoder can produce it.
        assert all(CANARY_VALUE not in json.dumps(r["messages"]) for r in llm.requests)


def test_the_answer_is_cached_per_endpoint_and_model(tmp_path: Path) -> None:
    with ScriptedLLM(responder=llama_cpp_like) as llm:
        settings = settings_for(llm.url, tmp_path)
        endpoint = Endpoint(llm.url, settings.llm_model)
        endpoint_mode(settings, endpoint)
        probes = len(llm.requests)
        assert endpoint_mode(settings, endpoint) is StructuredMode.JSON_OBJECT_SCHEMA
        probe.forget()  # a new process: the answer comes from the data dir
        assert endpoint_mode(settings, endpoint) is StructuredMode.JSON_OBJECT_SCHEMA
        assert len(llm.requests) == probes
        other_model = Endpoint(llm.url, "another-model")
        endpoint_mode(settings, other_model)
        assert len(llm.requests) > probes


def test_an_unreachable_endpoint_is_a_transient_fault_and_nothing_is_cached(
    tmp_path: Path,
) -> None:
    with ScriptedLLM(responder=lambda body: Reply(status=503)) as llm:
        settings = settings_for(llm.url, tmp_path)
        endpoint = Endpoint(llm.url, settings.llm_model)
        with pytest.raises(LLMUnavailable):
            endpoint_mode(settings, endpoint)
        assert not (tmp_path / "llm_modes.json").exists()


def test_a_configured_mode_skips_the_probe(tmp_path: Path) -> None:
    with ScriptedLLM() as llm:
        settings = load_settings(llm_base_url=llm.url, data_dir=str(tmp_path),
                                 llm_structured_mode="json_object")
        assert endpoint_mode(settings, Endpoint(llm.url, "m")) is StructuredMode.JSON_OBJECT
        assert llm.requests == []
