"""The webhook sink: POST the record as JSON with ``Idempotency-Key: <job id>``.

2xx is delivered. A timeout, a connection error, 408, 425, 429 or 5xx is
:class:`SinkUnavailable` (retried with backoff on the ``io`` queue); any other 4xx is
:class:`SinkRefused`. The receiver uses the header to drop a repeat of a delivery whose
answer we never saw.

A webhook URL often carries a token in its path or query, so errors (which land on the
job, in logs and in the dashboard) name only its origin, ``https://host[:port]``.
"""

from __future__ import annotations

from typing import Any

import httpx

from libs.sinks import SinkRefused, SinkUnavailable
from sluice.settings import Settings

_RETRYABLE = frozenset({408, 425, 429})


def post_record(
    settings: Settings,
    job_id: str,
    schema_name: str | None,
    schema_version: int | None,
    record: dict[str, Any],
) -> int:
    """POST the record; returns the HTTP status of a successful delivery."""
    url = settings.sink_webhook_url
    if not url:
        raise SinkRefused("the webhook sink is configured but SLUICE_SINK_WEBHOOK_URL is unset")
    body = {"job_id": job_id, "schema": schema_name, "schema_version": schema_version,
            "record": record}
    try:
        response = httpx.post(
            url, json=body, headers={"Idempotency-Key": job_id},
            timeout=settings.sink_webhook_timeout_seconds,
        )
    except httpx.HTTPError as exc:
        reason = str(exc).replace(url, origin(url))
        raise SinkUnavailable(f"webhook {origin(url)}: {type(exc).__name__}: {reason}") from None
    if response.is_success:
        return response.status_code
    detail = f"webhook {origin(url)}: HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code in _RETRYABLE or response.status_code >= 500:
        raise SinkUnavailable(detail)
    raise SinkRefused(detail)


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no user, password, path or query."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(an invalid URL)"
    if not parsed.host:
        return "(an invalid URL)"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"
