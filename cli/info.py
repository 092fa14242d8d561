"""``sluice info``: where everything is. The block ``sluice up`` ends with, on demand.

Read from the settings and the data dir alone (the API key and Flower password ``sluice up``
generated live there), so it answers whether or not the system is running.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sluice.settings import Settings

LOGS_DIR_NAME = "logs"
ACCESS_LOG_NAME = "access.log"
LLM_LOG_NAME = "llm.log"
FLOWER_PASSWORD_NAME = "flower_password"


def logs_dir(settings: Settings) -> Path:
    """Where `sluice up` writes what is too noisy for the console."""
    return settings.data_dir.resolve() / LOGS_DIR_NAME


def known_api_key(settings: Settings) -> str | None:
    """The first configured key, else the one `sluice up` generated into the data dir."""
    keys = settings.api_key_values()
    if keys:
        return keys[0]
    path = settings.api_key_file
    return path.read_text().strip() if path.exists() else None


def flower_password_hint(settings: Settings) -> str:
    if settings.flower_password is not None and settings.flower_password.get_secret_value():
        return "password from SLUICE_FLOWER_PASSWORD"
    return f"password in {settings.data_dir.resolve() / FLOWER_PASSWORD_NAME}"


def info_lines(settings: Settings, *, not_consumed: str | None = None) -> list[str]:
    """URLs, the API key, the dashboard user hint, the logs: one block, one item a line."""
    api = settings.effective_api_url
    key = known_api_key(settings) or "none yet: `sluice up` generates one, or set SLUICE_API_KEYS"
    logs = logs_dir(settings)
    lines = [
        f"API        {api}   (docs: {api}/docs)",
        f"API key    {key}",
        f"dashboard  http://{settings.dashboard_host}:{settings.dashboard_port}"
        "   (sign in as a user: sluice users add NAME --role admin)",
        f"Flower     http://{settings.flower_host}:{settings.flower_port}"
        f"   (user {settings.flower_user}, {flower_password_hint(settings)})",
        f"logs       {logs}   ({LLM_LOG_NAME}: the local LLM, {ACCESS_LOG_NAME}: HTTP requests)",
        f"data       {settings.data_dir.resolve()}",
    ]
    if not_consumed:
        lines.append(f"missing    {not_consumed}")
    return lines


def info() -> None:
    """Print the URLs, the API key, the dashboard user hint and where the logs are."""
    from cli.kinds import not_consumed
    from cli.main import _settings_or_exit

    settings = _settings_or_exit()
    for line in info_lines(settings, not_consumed=not_consumed()):
        typer.echo(line)
