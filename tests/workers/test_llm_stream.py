"""The streamed LLM call against real HTTP servers: endpoint fallback up to the first token,
never after it, and the same hooks, budget and fault sorting as the plain call."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from libs.llm import budget as llm_budget
from libs.llm.budget import LLMPaused
from libs.llm.call import ChatCall, LLMRejected, LLMUnavailable
from libs.llm.chat import chat, endpoints
from libs.llm.stream import StreamBroken, stream_chat
from schemas.job import DeadReason
from sluice.job_task import DeadLetter, Retryable
from sluice.settings import Settings
from tests.conftest import SluiceEnv, make_env
from tests.support.scripted_llm import Reply, ScriptedLLM

MESSAGES = [{"role": "user", "content": "Say something."}]


@pytest.fixture
def first() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def second() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def refusing_url() -> str:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def settings_for(sluice_env: SluiceEnv, url: str, *fallbacks: str, **overrides: object) -> Settings:
    env = make_env(
        sluice_env.tmp / "llm", str(sluice_env.settings.broker_url), llm_base_url=url,
        llm_fallback_urls=",".join(fallbacks), llm_model="scripted-model",
        llm_timeout_seconds=5, **overrides,
    )
    env.store.close()
    return env.settings


def stream(settings: Settings, seen: list[str] | None = None) -> object:
    return stream_chat(settings, MESSAGES, (seen if seen is not None else []).append,
                       max_tokens=20, temperature=0.0)


def test_a_stream_falls_back_to_the_second_endpoint_when_the_first_refuses_connections(
    sluice_env: SluiceEnv, second: ScriptedLLM
) -> None:
    second.enqueue(Reply(content="Thirty days [1]."))
    settings = settings_for(sluice_env, refusing_url(), second.url)
    seen: list[str] = []

    completion = stream_chat(settings, MESSAGES, seen.append, max_tokens=20, temperature=0.0)

    assert "".join(seen) == completion.text == "Thirty days [1]."
    assert completion.endpoint.base_url == second.url
    assert len(second.requests) == 1 and second.requests[0]["stream"] is True


def test_a_server_error_before_the_first_token_falls_back(
    sluice_env: SluiceEnv, first: ScriptedLLM, second: ScriptedLLM
) -> None:
    first.enqueue(Reply(status=503))
    second.enqueue(Reply(content="From the second."))
    settings = settings_for(sluice_env, first.url, second.url)
    seen: list[str] = []

    stream(settings, seen)

    assert "".join(seen) == "From the second."
    assert len(first.requests) == 1 and len(second.requests) == 1


def test_a_fault_after_the_first_token_is_retried_by_the_job_not_finished_elsewhere(
    sluice_env: SluiceEnv, first: ScriptedLLM, second: ScriptedLLM
) -> None:
    first.enqueue(Reply(content="one two three four", break_after=2))
    second.enqueue(Reply(content="a different answer"))
    settings = settings_for(sluice_env, first.url, second.url)
    seen: list[str] = []

    with pytest.raises(StreamBroken) as broken:
        stream(settings, seen)

    assert seen == ["one", " two"]  # no spliced answer from another endpoint
    assert second.requests == []
    assert isinstance(broken.value, Retryable) and not broken.value.wait
    assert "after 2 tokens" in str(broken.value)


def test_a_refused_request_is_not_sent_to_the_next_endpoint(
    sluice_env: SluiceEnv, first: ScriptedLLM, second: ScriptedLLM
) -> None:
    first.enqueue(Reply(status=400, error_body={"error": {"message": "context too long"}}))
    settings = settings_for(sluice_env, first.url, second.url)

    with pytest.raises(LLMRejected) as refused:
        stream(settings)

    assert isinstance(refused.value, DeadLetter)
    assert refused.value.reason is DeadReason.NON_RETRYABLE
    assert refused.value.status == 400 and "context too long" in str(refused.value)
    assert second.requests == []


def test_every_endpoint_down_is_a_transient_fault(sluice_env: SluiceEnv) -> None:
    settings = settings_for(sluice_env, refusing_url(), refusing_url())

    with pytest.raises(LLMUnavailable) as down:
        stream(settings)

    assert isinstance(down.value, Retryable) and down.value.status is None


def test_plain_and_streamed_calls_run_the_same_hooks(
    sluice_env: SluiceEnv, first: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ChatCall] = []
    monkeypatch.setattr("libs.llm.call.BEFORE_CALL", [lambda _settings, call: seen.append(call)])
    first.enqueue(Reply(content="plain"), Reply(content="streamed"))
    settings = settings_for(sluice_env, first.url)

    chat(settings, endpoints(settings)[0], MESSAGES, max_tokens=8, purpose="extraction")
    stream_chat(settings, MESSAGES, print, max_tokens=8, temperature=0.0, job_id="job-1")

    assert [(c.purpose, c.stream, c.job_id) for c in seen] == [
        ("extraction", False, None), ("generation", True, "job-1"),
    ]
    assert seen[1].endpoint.base_url == first.url and seen[1].messages == MESSAGES


def test_a_hook_that_raises_stops_the_stream_before_the_model_sees_it(
    sluice_env: SluiceEnv, first: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refused(Exception):
        pass

    def refuse(_settings: Settings, _call: ChatCall) -> None:
        raise Refused("no")

    monkeypatch.setattr("libs.llm.call.BEFORE_CALL", [refuse])
    with pytest.raises(Refused):
        stream(settings_for(sluice_env, first.url))
    assert first.requests == []


def test_a_stream_charges_its_reported_usage_and_the_kill_switch_stops_the_next(
    sluice_env: SluiceEnv, first: ScriptedLLM
) -> None:
    first.enqueue(Reply(content="five words in this answer", prompt_tokens=20,
                        completion_tokens=10))
    settings = settings_for(sluice_env, first.url, llm_budgets="global:tokens:hour=1000")

    completion = stream_chat(settings, MESSAGES, print, max_tokens=20, temperature=0.0)

    assert first.requests[0]["stream_options"] == {"include_usage": True}
    assert (completion.prompt_tokens, completion.completion_tokens) == (20, 10)
    [window] = llm_budget.usage(settings)
    assert window.used == 30  # the estimate was replaced by the real usage

    llm_budget.pause(settings, by="test", reason="drill")
    with pytest.raises(LLMPaused) as paused:
        stream(settings)
    assert paused.value.wait is True and len(first.requests) == 1
