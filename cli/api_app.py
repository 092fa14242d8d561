"""The API as `sluice api` serves it (uvicorn's factory): :func:`producers.api.app.create_app`
given what only the composition root can build, the erasure that reaches the dashboard."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from cli.erasure import erase_everywhere
from producers.api.app import create_app
from sluice.settings import get_settings


def create_api() -> FastAPI:
    settings = get_settings()
    return create_app(settings, erase=partial(erase_everywhere, settings=settings))
