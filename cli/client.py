"""The CLI's way to the API: :mod:`sluice.client`, with the base URL and key from the
settings (or `sluice up`'s key file), and its errors printed as one line and exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import typer
from pydantic import BaseModel

from schemas.job import SETTLED
from sluice.client import SluiceClient, SluiceError, WaitTimedOut
from sluice.settings import Settings

TIMEOUT_SECONDS = 30.0
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


def api_client(settings: Settings) -> SluiceClient:
    return SluiceClient(settings.effective_api_url, api_key(settings), timeout=TIMEOUT_SECONDS)


def _problem_line(error: SluiceError) -> str:
    fields = "; ".join(
        f"{'.'.join(str(part) for part in field.get('loc', []))}: {field.get('msg', field)}"
        for field in error.errors
    )
    return f"error: HTTP {error.status}: {fields or error.detail}" if error.status else (
        f"error: {error.detail}")


@contextmanager
def reported() -> Iterator[None]:
    """Run API calls; an error answer becomes the API's own message on stderr and exit 1."""
    try:
        yield
    except SluiceError as error:
        typer.echo(_problem_line(error), err=True)
        raise typer.Exit(1) from None
    except httpx.TransportError as error:
        typer.echo(f"error: cannot reach the API ({type(error).__name__}: {error}); is "
                   "`sluice up` or `sluice api` running?", err=True)
        raise typer.Exit(1) from None


def as_json(model: BaseModel) -> Any:
    """A model as the API sent it, for ``console.print_json(data=...)``."""
    return model.model_dump(mode="json")


def wait_for_job(client: SluiceClient, job_id: str, timeout: float) -> Any:
    """Follow the job's events until it settles or ``timeout`` passes; the job as last seen."""
    try:
        return as_json(client.wait(job_id, timeout=timeout))
    except WaitTimedOut:
        return as_json(client.get(job_id))
