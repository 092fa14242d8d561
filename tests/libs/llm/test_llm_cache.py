"""The LLM response cache on the one call path: real Redis, the real openai client, a
scripted OpenAI-protocol server that counts what it is asked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from libs.llm import budget as llm_budget
from libs.llm.cache import INDEX_KEY, KEY_PREFIX
from libs.llm.chat import Endpoint, chat
from libs.llm.stream import stream_chat
from sluice.broker_redis import broker_redis
from sluice.settings import Settings
from tests.conftest import SluiceEnv, make_env
from tests.support.scripted_llm import Reply, ScriptedLLM

MESSAGES = [{"role": "user", "content": "Extract the order number from: order 48213."}]
SCHEMA = {"type": "json_object", "schema": {"type": "object"}}


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(lambda body: Reply(content='{"order_id": "48213"}', prompt_tokens=30,
                                        completion_tokens=10)) as server:
        yield server


def cache_settings(sluice_env: SluiceEnv, llm: ScriptedLLM, **overrides: object) -> Settings:
    env = make_env(sluice_env.tmp / "cache", str(sluice_env.settings.broker_url),
                   **{"llm_base_url": llm.url, "llm_cache": True, **overrides})
    env.store.close()
    return env.settings


def ask(settings: Settings, llm: ScriptedLLM, **options: object) -> object:
    endpoint = Endpoint(llm.url, "scripted-model")
    params: dict[str, object] = {"max_tokens": 64, "temperature": 0.0,
                                 "response_format": SCHEMA, "cache": True, **options}
    return chat(settings, endpoint, MESSAGES, **params)  # type: ignore[arg-type]


def hits() -> float:
    return REGISTRY.get_sample_value("sluice_llm_cache_total", {"result": "hit"}) or 0.0


def test_a_repeated_temperature_zero_call_costs_no_tokens_and_no_budget(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    settings = cache_settings(sluice_env, llm, llm_budgets="global:tokens:hour=100000")
    hits_before = hits()
    first = ask(settings, llm)
    spent = {u.rule.name: u.used for u in llm_budget.usage(settings)}
    again = ask(settings, llm)
    assert len(llm.requests) == 1  # the model was asked once
    assert (first.cached, first.prompt_tokens, first.completion_tokens) == (False, 30, 10)
    assert (again.cached, again.prompt_tokens, again.completion_tokens) == (True, 0, 0)
    assert again.text == first.text and again.model == first.model
    assert {u.rule.name: u.used for u in llm_budget.usage(settings)} == spent == {
        "global:tokens:hour": 40.0}
    assert hits() == hits_before + 1


@pytest.mark.parametrize("change", [
    {"temperature": 0.7},  # a warmer call is a sample: never cached
    {"cache": False},  # the caller did not allow it (an extraction correction)
])
def test_calls_the_cache_may_not_answer_go_to_the_model_every_time(
    sluice_env: SluiceEnv, llm: ScriptedLLM, change: dict[str, object]
) -> None:
    settings = cache_settings(sluice_env, llm)
    results = [ask(settings, llm, **change) for _ in range(2)]
    assert len(llm.requests) == 2
    assert [r.cached for r in results] == [False, False]


def test_the_cache_is_off_unless_the_setting_turns_it_on(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    settings = cache_settings(sluice_env, llm, llm_cache=False)
    ask(settings, llm), ask(settings, llm)
    assert len(llm.requests) == 2


def test_the_key_covers_the_decoding_schema_and_the_sampling_parameters(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    settings = cache_settings(sluice_env, llm)
    ask(settings, llm)
    ask(settings, llm, response_format={"type": "json_object"})
    ask(settings, llm, max_tokens=65)
    ask(settings, llm, max_tokens=65)
    assert len(llm.requests) == 3


def test_entries_expire_and_the_least_recently_used_go_past_the_bound(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    settings = cache_settings(sluice_env, llm, llm_cache_max_entries=2,
                              llm_cache_ttl_seconds=120)
    for tokens in (10, 11, 12):  # three different calls, a bound of two
        ask(settings, llm, max_tokens=tokens)
    client = broker_redis(settings)
    entries = [key.decode() for key in client.zrange(INDEX_KEY, 0, -1)]
    assert len(entries) == 2 and all(key.startswith(KEY_PREFIX) for key in entries)
    assert all(0 < client.ttl(key) <= 120 for key in entries)
    assert len(list(client.scan_iter(match=f"{KEY_PREFIX}:[0-9a-f]*"))) == 2
    asked = len(llm.requests)
    assert ask(settings, llm, max_tokens=12).cached  # still there
    assert not ask(settings, llm, max_tokens=10).cached  # the oldest was evicted
    assert len(llm.requests) == asked + 1


def test_a_streamed_temperature_zero_answer_is_cached_and_replayed_whole(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    settings = cache_settings(sluice_env, llm)
    pieces: list[list[str]] = [[], []]
    done = [
        stream_chat(settings, MESSAGES, pieces[i].append, max_tokens=64, temperature=0.0,
                    cache=True)
        for i in range(2)
    ]
    assert len(llm.requests) == 1
    assert [d.cached for d in done] == [False, True]
    assert done[1].completion_tokens == 0 and done[1].text == done[0].text
    assert "".join(pieces[1]) == "".join(pieces[0]) == '{"order_id": "48213"}'
