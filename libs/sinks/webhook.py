"""The webhook sink: POST the record as JSON with ``Idempotency-Key: <job id>``.

2xx is delivered. A timeout, a connection error or a transient status (see
:mod:`libs.http_faults`: 408, 425, 429, 500, 502, 503, 504) is :class:`SinkUnavailable`
(retried with backoff on the ``io`` queue); any other status is :class:`SinkRefused`. The
receiver uses the header to drop a repeat of a delivery whose answer we never saw.

A webhook URL often carries a token in its path or query, so errors (which land on the
job, in logs and in the dashboard) name only its origin, ``https://host[:port]``.
"""

from __future__ import annotations

from typing import Any

import httpx

from libs.http_faults import HttpFault, classify
from libs.sinks import SinkRefused, SinkUnavailable
from sluice.settings import Settings


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
    if classify(response) is HttpFault.TRANSIENT:
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
