"""Model routes: which endpoints and model a call takes, and routes that do not load."""

from __future__ import annotations

import json

import pytest

from libs.llm.call import Endpoint
from libs.llm.routing import route_for
from sluice.settings import Settings, SettingsError, load_settings

ROUTES = [
    {"name": "long-docs", "min_input_chars": 20000, "base_url": "http://big:8000/v1/",
     "model": "big-32b"},
    {"name": "retries", "kind": "extract", "min_attempt": 2, "model": "mid-7b"},
    {"name": "tickets", "schema": "support_ticket", "model": "small-0.5b"},
]


def settings(**fields: object) -> Settings:
    return Settings.model_validate({
        "llm_base_url": "http://small:8000/v1", "llm_model": "configured",
        "llm_fallback_urls": "http://backup:8000/v1", "llm_routes": json.dumps(ROUTES),
        **fields,
    })


def test_the_first_matching_route_takes_the_call() -> None:
    configured = settings()
    first = route_for(configured, kind="extract", schema_name="support_ticket", attempt=1)
    assert first.name == "tickets"
    assert first.endpoints == [Endpoint("http://small:8000/v1", "small-0.5b"),
                               Endpoint("http://backup:8000/v1", "small-0.5b")]
    retry = route_for(configured, kind="extract", schema_name="support_ticket", attempt=2)
    assert (retry.name, retry.endpoints[0].model) == ("retries", "mid-7b")
    long = route_for(configured, kind="extract", schema_name="support_ticket",
                     input_chars=25000, attempt=2)
    assert long.name == "long-docs"
    # A route's own server is asked alone: the small server is no fallback for it.
    assert long.endpoints == [Endpoint("http://big:8000/v1", "big-32b")]


def test_a_call_no_route_takes_goes_the_configured_way_as_default() -> None:
    route = route_for(settings(), kind="ask", input_chars=100)
    assert route.name == "default"
    assert [e.model for e in route.endpoints] == ["configured", "configured"]
    assert route_for(settings(llm_routes=""), kind="extract").name == "default"


def test_a_jobs_own_model_beats_the_routes() -> None:
    route = route_for(settings(), kind="extract", schema_name="support_ticket", model="mine")
    assert route.name == "tickets" and {e.model for e in route.endpoints} == {"mine"}


@pytest.mark.parametrize("routes, complaint", [
    ('[{"name": "a"}, {"name": "a"}]', "unique"),
    ('[{"name": "default"}]', "unique"),
    ('[{"name": "a", "base_url": "big:8000"}]', "not an http(s) URL"),
    ('[{"name": "a", "min_attempts": 2}]', "min_attempts"),
    ("[{name: a}]", "JSON"),
])
def test_routes_that_cannot_work_stop_start_up_naming_the_variable(
    routes: str, complaint: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(llm_routes=routes)
    assert "SLUICE_LLM_ROUTES" in str(refused.value)
    assert complaint in str(refused.value)
