"""The one settings object: environment variables prefixed ``SLUICE_``, or a ``.env`` file.

Every process (API, worker, CLI) reads the same object through :func:`get_settings`; a bad
value stops start-up with a message that names the variable, never a traceback deep inside
Celery or uvicorn. Each component's options are a section in its own module (``core``,
``api``, ``llm``, ``sinks``, ...) that validates its own values; :class:`Settings` composes
them, so every option is still a flat attribute (``settings.llm_model``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sluice.settings.api import ApiSettings, api_key_id
from sluice.settings.batch import BatchSettings, ScheduledBatch
from sluice.settings.cdc import CDCSettings
from sluice.settings.core import ENV_PREFIX, CoreSettings, SettingsError
from sluice.settings.crawl import CrawlSettings
from sluice.settings.dashboard import DashboardSettings
from sluice.settings.email import EmailSettings, MailboxSettings
from sluice.settings.extraction import ExtractionSettings
from sluice.settings.llm import LLMSettings, StructuredMode
from sluice.settings.retrieval import RetrievalSettings
from sluice.settings.sinks import SINK_NAMES, SinkSettings


# Pydantic lists the fields of the last base first: the sections read bottom to top, so
# the core options lead the README's table.
class Settings(
    DashboardSettings,
    RetrievalSettings,
    CDCSettings,
    BatchSettings,
    CrawlSettings,
    EmailSettings,
    SinkSettings,
    ExtractionSettings,
    LLMSettings,
    ApiSettings,
    CoreSettings,
    BaseSettings,
):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; turn pydantic's errors into one that names the variables."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            problems.append(f"{_variable(error['loc'])}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None


def _variable(location: tuple[int | str, ...]) -> str:
    """``("batch_schedule", 0, "cron")`` -> ``SLUICE_BATCH_SCHEDULE[0].cron``."""
    if not location:
        return "settings"
    name = f"{ENV_PREFIX}{str(location[0]).upper()}"
    for part in location[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


@functools.cache
def get_settings() -> Settings:
    return load_settings()


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration, fit to print: secrets as ``***``, URL passwords hidden."""
    shown: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = mask_url(value.get_secret_value()) if name.endswith("_url") else "***"
        elif isinstance(value, list) and value and isinstance(value[0], SecretStr):
            value = ["***"] * len(value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            # Nested models (mailboxes, schedules): JSON mode prints their secrets as ****.
            value = [item.model_dump(mode="json") for item in getattr(settings, name)]
        elif isinstance(value, str) and name.endswith("_url"):
            value = mask_url(value)
        elif isinstance(value, Path):
            value = str(value)
        shown[f"{ENV_PREFIX}{name.upper()}"] = value
    return shown


__all__ = [
    "ENV_PREFIX",
    "SINK_NAMES",
    "MailboxSettings",
    "ScheduledBatch",
    "Settings",
    "SettingsError",
    "StructuredMode",
    "api_key_id",
    "get_settings",
    "load_settings",
    "mask_url",
    "masked",
]
