"""The CLI's way to the API: base URL and key from the settings (or `sluice up`'s key file)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import typer

from schemas.job import SETTLED
from sluice.settings import Settings

TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.2
# Where a job stops changing on its own: terminal, or dead and waiting for a person.
SETTLED_STATUSES = frozenset(status.value for status in SETTLED)


def api_key(settings: Settings) -> str:
    keys = settings.api_key_values()
    if keys:
        return keys[0]
    if settings.api_key_file.exists():
        return settings.api_key_file.read_text().strip()
    raise typer.BadParameter(
        "no API key: set SLUICE_API_KEYS, or start `sluice up` with this data dir"
    )


def api_client(settings: Settings) -> httpx.Client:
    return httpx.Client(
        base_url=settings.effective_api_url,
        headers={"Authorization": f"Bearer {api_key(settings)}"},
        timeout=TIMEOUT_SECONDS,
    )


def checked(response: httpx.Response) -> Any:
    """The JSON body, or exit 1 with the API's own error message."""
    if response.is_error:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        typer.echo(f"error: HTTP {response.status_code}: {detail}", err=True)
        raise typer.Exit(1)
    return response.json()


def wait_for_job(client: httpx.Client, job_id: str, timeout: float) -> Any:
    """Poll the API until the job settles or ``timeout`` passes; the job as last seen."""
    deadline = time.monotonic() + timeout
    while True:
        job = checked(client.get(f"/v1/jobs/{job_id}"))
        if job["status"] in SETTLED_STATUSES or time.monotonic() > deadline:
            return job
        time.sleep(POLL_SECONDS)
