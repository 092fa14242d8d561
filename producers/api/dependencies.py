"""What route handlers get from the running app: settings, store, Celery."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import Depends, Request

from sluice.settings import Settings
from sluice.stores import JobStore


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.store
    return store


def _celery(request: Request) -> Celery:
    celery: Celery = request.app.state.celery
    return celery


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[JobStore, Depends(_store)]
CeleryDep = Annotated[Celery, Depends(_celery)]
