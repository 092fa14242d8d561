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
from sluice.settings.files import FileSettings
from sluice.settings.gateway import GatewaySettings
from sluice.settings.lifecycle import LifecycleSettings
from sluice.settings.llm import LLMSettings, StructuredMode
from sluice.settings.retention import RetentionSettings
from sluice.settings.retrieval import RetrievalSettings
from sluice.settings.sinks import SINK_NAMES, SinkSettings


# Pydantic lists the fields of the last base first: the sections read bottom to top, so
# the core options lead the README's table.
class Settings(
    FileSettings,
    RetentionSettings,
    DashboardSettings,
    RetrievalSettings,
    CDCSettings,
    BatchSettings,
    CrawlSettings,
    EmailSettings,
    SinkSettings,
    ExtractionSettings,
    GatewaySettings,
    LLMSettings,
    ApiSettings,
    LifecycleSettings,
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


# Query parameters that carry credentials in the URLs operators paste (SAS tokens, API keys).
_SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "token", "secret", "key", "sig", "signature")


def mask_url(url: str, *, hide_path: bool = False) -> str:
    """``url`` fit to print: the password in its userinfo and secret-looking query values as
    ``***``; with ``hide_path`` (webhooks carry tokens in the path) the path too.

    Works on the netloc as text, so a multi-host URL (``mongodb://u:p@h1:27017,h2:27017/``)
    is masked instead of failing to parse a port.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hosts}"
    query = "&".join(
        f"{name}=***" if name.lower().endswith(_SECRET_QUERY_KEYS) else pair
        for pair in parts.query.split("&") if pair
        for name in [pair.split("=", 1)[0]]
    )
    path = "/***" if hide_path and parts.path not in ("", "/") else parts.path
    if hide_path and parts.query:
        query = "***"
    return urlunsplit(parts._replace(netloc=netloc, path=path, query=query))


def _is_url_setting(name: str) -> bool:
    return name.endswith(("_url", "_urls"))


def _mask_url_setting(name: str, url: str) -> str:
    hide_path = "webhook" in name
    if name.endswith("_urls"):
        return ",".join(mask_url(item.strip(), hide_path=hide_path)
                        for item in url.split(",") if item.strip())
    return mask_url(url, hide_path=hide_path)


def masked(settings: Settings) -> dict[str, Any]:
    """The effective configuration, fit to print: secrets as ``***``, URL passwords hidden."""
    shown: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            value = _mask_url_setting(name, secret) if _is_url_setting(name) else "***"
        elif isinstance(value, list) and value and isinstance(value[0], SecretStr):
            value = ["***"] * len(value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            # Nested models (mailboxes, schedules): JSON mode prints their secrets as ****.
            value = [item.model_dump(mode="json") for item in getattr(settings, name)]
        elif isinstance(value, str) and _is_url_setting(name):
            value = _mask_url_setting(name, value)
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
