"""``sluice flower``: Flower on the configured broker, never without authentication.

Basic auth comes from ``SLUICE_FLOWER_USER`` / ``SLUICE_FLOWER_PASSWORD`` and is handed to
Flower through its environment (``FLOWER_BASIC_AUTH``), not the command line, where ``ps``
would show it. ``FLOWER_UNAUTHENTICATED_API`` is removed from the environment whatever
its value: Flower's API can revoke tasks and shut down workers.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from typing import Annotated

import typer

from sluice.settings import ENV_PREFIX, Settings


class FlowerWithoutCredentials(Exception):
    """No password configured: Flower would serve the fleet's tasks to anyone."""


def flower_environment(settings: Settings, environ: MutableMapping[str, str]) -> None:
    """Set Flower's auth in ``environ``; refuse without a password."""
    password = settings.flower_password.get_secret_value() if settings.flower_password else ""
    if not password or not settings.flower_user:
        raise FlowerWithoutCredentials(
            f"set {ENV_PREFIX}FLOWER_PASSWORD (and optionally {ENV_PREFIX}FLOWER_USER): "
            "Flower never runs without authentication"
        )
    if ":" in settings.flower_user:
        raise FlowerWithoutCredentials(f"{ENV_PREFIX}FLOWER_USER must not contain ':'")
    environ.pop("FLOWER_UNAUTHENTICATED_API", None)
    environ["FLOWER_BASIC_AUTH"] = f"{settings.flower_user}:{password}"


def flower_argv(settings: Settings, host: str | None, port: int | None) -> list[str]:
    return [
        "flower",
        f"--address={host or settings.flower_host}",
        f"--port={port or settings.flower_port}",
    ]


def flower(
    host: Annotated[str | None, typer.Option(help="Default: SLUICE_FLOWER_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: SLUICE_FLOWER_PORT.")] = None,
) -> None:
    """Start Flower (live workers and tasks) behind basic auth."""
    from cli.main import _settings_or_exit

    settings = _settings_or_exit()
    try:
        flower_environment(settings, os.environ)
    except FlowerWithoutCredentials as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    from cli.worker_app import app as celery_app

    celery_app.start(argv=flower_argv(settings, host, port))
