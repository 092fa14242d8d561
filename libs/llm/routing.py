"""Model routing: which endpoints and model one call goes to, by kind, schema, size, attempt.

The routes are ``SLUICE_LLM_ROUTES`` (:class:`schemas.llm_routes.ModelRoute`), tried in
order; the first that matches the call takes it. A route with a ``base_url`` sends the call
there alone (a bigger model's server is not a fallback for a small one, nor the other way
round); a route with only a ``model`` keeps the configured endpoint and its fallbacks. A
call no route takes goes the configured way, as the route ``default``. The route's name is
recorded on every attempt, and ``GET /v1/stats/extraction`` reports per route.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.llm.call import Endpoint, endpoints
from schemas.llm_routes import DEFAULT_ROUTE, ModelRoute
from sluice.settings import Settings


@dataclass(frozen=True)
class Route:
    """A route taken: its name, and the endpoints to try in order."""

    name: str
    endpoints: list[Endpoint]


def route_for(
    settings: Settings,
    *,
    kind: str | None,
    schema_name: str | None = None,
    input_chars: int = 0,
    attempt: int = 1,
    model: str | None = None,
) -> Route:
    """The first route that matches; ``model`` (a job's own override) beats the route's."""
    for rule in settings.llm_routes:
        if rule.matches(
            kind=kind, schema_name=schema_name, input_chars=input_chars, attempt=attempt
        ):
            return Route(rule.name, _targets(settings, rule, model))
    return Route(DEFAULT_ROUTE, endpoints(settings, model))


def _targets(settings: Settings, rule: ModelRoute, model: str | None) -> list[Endpoint]:
    name = model or rule.model or settings.llm_model
    if rule.base_url is not None:
        return [Endpoint(rule.base_url.rstrip("/"), name)]
    return endpoints(settings, name)
