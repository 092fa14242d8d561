"""Generation's parts without a worker: the one streaming LLM call, the prompt, the token
stream. The whole ``ask`` job over HTTP is in tests/producers/test_api_ask.py."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
import redis.asyncio

from cli.embedded_redis import EmbeddedRedis
from libs.llm.stream import stream_chat
from libs.llm.token_stream import START, TokenStreamWriter, read_after, read_all
from sluice.job_task import DeadLetter, Retryable
from sluice.settings import Settings, load_settings
from tests.support.scripted_llm import Reply, ScriptedLLM
from workers.embedding.vectors import Hit
from workers.generation.prompt import PROMPT_VERSION, render, source_list

MESSAGES = [{"role": "user", "content": "Say something."}]


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def settings_for(url: str) -> Settings:
    return load_settings(llm_base_url=url, llm_model="scripted-model", llm_timeout_seconds=5)


def test_stream_chat_hands_over_every_token_as_it_arrives(llm: ScriptedLLM) -> None:
    llm.enqueue(Reply(content="Refunds take five business days [1].", token_delay=0.01))
    seen: list[str] = []

    completion = stream_chat(settings_for(llm.url), MESSAGES, seen.append,
                             max_tokens=50, temperature=0.0)

    assert "".join(seen) == completion.text == "Refunds take five business days [1]."
    assert len(seen) == 6
    assert completion.completion_tokens == 6 and completion.prompt_tokens == 2
    assert completion.first_token_ms is not None
    assert completion.first_token_ms < completion.duration_ms
    assert llm.requests[0]["stream"] is True and llm.requests[0]["max_tokens"] == 50


def test_a_server_error_is_retryable_and_a_refusal_dead_letters(llm: ScriptedLLM) -> None:
    llm.enqueue(Reply(status=503), Reply(status=400, error_body={"error": {"message": "bad"}}))
    settings = settings_for(llm.url)

    with pytest.raises(Retryable):
        stream_chat(settings, MESSAGES, print, max_tokens=5, temperature=0.0)
    with pytest.raises(DeadLetter) as refused:
        stream_chat(settings, MESSAGES, print, max_tokens=5, temperature=0.0)
    assert refused.value.reason.value == "non_retryable"


def test_an_unreachable_endpoint_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Retryable):
        stream_chat(settings_for(f"http://127.0.0.1:{port}/v1"), MESSAGES, print,
                    max_tokens=5, temperature=0.0)


def test_the_prompt_numbers_its_sources_for_citation() -> None:
    hits = [Hit(0.9, "refunds.txt", "corpus", 0, "Return within 30 days."),
            Hit(0.5, "shipping.html", "corpus", 2, "Parcels take two days.")]

    [message] = render("How long do refunds take?", hits)
    sources = source_list(hits)

    assert message["role"] == "user"  # some chat formats drop system messages
    assert "[1] (corpus: refunds.txt)\nReturn within 30 days." in message["content"]
    assert "[2] (corpus: shipping.html)" in message["content"]
    assert "square brackets" in message["content"]
    assert message["content"].rstrip().endswith("Question: How long do refunds take?\nAnswer:")
    assert [s["n"] for s in sources] == [1, 2] and sources[0]["doc_id"] == "refunds.txt"
    assert PROMPT_VERSION.endswith("/v1")


def test_a_token_stream_resumes_after_any_id_without_gap_or_repeat(
    redis_server: EmbeddedRedis,
) -> None:
    url = f"unix://{redis_server.socket_path}"
    writer = TokenStreamWriter(redis.Redis.from_url(url), "job-resume", ttl_seconds=60)
    writer.append("sources", {"sources": []})
    for word in ["a", " b", " c", " d"]:
        writer.append("token", {"text": word})
    writer.append("done", {"trace_id": "job-resume"})

    async def read(after: str) -> list[str]:
        client = redis.asyncio.Redis.from_url(url)
        try:
            return [event.id for event in await read_after(client, "job-resume", after,
                                                           block_ms=None)]
        finally:
            await client.aclose()

    all_ids = asyncio.run(read(START))
    for cut in range(len(all_ids)):
        assert asyncio.run(read(all_ids[cut])) == all_ids[cut + 1:]
    events = read_all(redis.Redis.from_url(url), "job-resume")
    assert [e.event for e in events] == ["sources", "token", "token", "token", "token", "done"]
    assert "".join(e.data["text"] for e in events if e.event == "token") == "a b c d"
    assert 0 < redis.Redis.from_url(url).ttl("sluice:events:job-resume") <= 60
