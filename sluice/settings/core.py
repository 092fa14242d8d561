"""Core settings: where the data lives, the broker, the job runtime's limits, logging.

Also the pieces every section shares: the environment prefix, :class:`SettingsError` and
the comma-separated list parser.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

ENV_PREFIX = "SLUICE_"


class SettingsError(Exception):
    """The environment holds a value Sluice cannot run with."""


def split_commas(value: Any) -> Any:
    """``"a, b,"`` -> ``["a", "b"]``; anything but a string passes through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class CoreSettings(BaseModel):
    data_dir: Path = Field(
        Path(".sluice"), description="Embedded data: SQLite store, Redis socket, local Qdrant."
    )

    broker_url: str | None = Field(
        None,
        description="Celery broker (redis:// or redis+socket://). Unset: `sluice up` starts "
        "an embedded Redis under the data dir.",
    )

    mongodb_url: SecretStr | None = Field(
        None, description="MongoDB replica set for jobs and documents (always read from the "
        "primary; its read-preference options are ignored). Unset: embedded SQLite."
    )

    mongodb_database: str = Field("sluice", description="Database name inside MongoDB.")

    database_url: SecretStr | None = Field(
        None,
        description="PostgreSQL (postgresql://...) for jobs, documents, producer state, records "
        "and the dashboard's users, sessions and audit log. Unset: MongoDB or embedded SQLite.",
    )

    database_pool_size: int = Field(
        10, ge=1, description="Connections one process may hold open to PostgreSQL at once."
    )

    max_deliveries: int = Field(
        5, ge=1, description="Deliveries of one message before its job is dead/poison."
    )

    max_retries: int = Field(
        5, ge=0, description="Celery retries for transient faults before dead/exhausted."
    )

    retry_backoff_seconds: float = Field(
        2.0, gt=0, description="First retry delay; doubles each retry, jittered between half "
        "and all of it."
    )

    retry_backoff_max_seconds: float = Field(300.0, gt=0, description="Cap on one retry delay.")

    task_time_limit: float = Field(
        900.0, gt=0, description="Hard time limit of one task run, in seconds (prefork pool)."
    )

    task_soft_time_limit: float = Field(
        840.0, gt=0, description="Soft time limit: the task is told to stop, then retried."
    )

    visibility_timeout: float = Field(
        3600.0,
        gt=0,
        description="Redis visibility timeout: an unacked message is redelivered after this. "
        "Must exceed every hard time limit; countdowns longer than it are refused.",
    )

    stranded_after_seconds: float = Field(
        30.0,
        gt=0,
        description="A queued job whose message was never confirmed sent is re-sent after this.",
    )

    worker_concurrency: int = Field(4, ge=1, description="Threads of the `sluice up` worker.")

    plugins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated modules that declare extra job kinds (`@job_task`; an "
        "older KINDS dict of kind -> queue still routes), loaded after the `sluice.kinds` "
        "entry points by the API and the workers.",
    )

    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535,
        description="Port of a worker's Prometheus exporter (/metrics). Unset: no exporter.",
    )

    worker_metrics_host: str = Field("0.0.0.0", description="Address the worker exporter binds.")

    token_stream_ttl_seconds: int = Field(
        3600, ge=60, description="How long a job's token stream stays readable for resumes."
    )

    job_events_ttl_seconds: int = Field(
        3600, ge=60,
        description="How long a job's stream of versions (GET /v1/jobs/{id}/events) is kept "
        "after its last change.",
    )

    log_level: str = Field("INFO", description="Log level of every Sluice process.")

    log_json: bool = Field(False, description="Log JSON lines instead of console text.")

    access_log_file: Path | None = Field(
        None,
        description="Write HTTP access lines (API, dashboard) to this file instead of the log. "
        "`sluice up` sets it under the data dir.",
    )

    @field_validator("plugins", mode="before")
    @classmethod
    def _comma_separated_plugins(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("must be a postgresql:// URL")
        if value is not None and importlib.util.find_spec("psycopg_pool") is None:
            raise ValueError("PostgreSQL needs the postgres extra: pip install 'sluice[postgres]'")
        return value

    @model_validator(mode="after")
    def _one_shared_store(self) -> CoreSettings:
        if self.database_url is not None and self.mongodb_url is not None:
            raise ValueError(
                f"set {ENV_PREFIX}DATABASE_URL (PostgreSQL) or {ENV_PREFIX}MONGODB_URL, not both"
            )
        return self

    @model_validator(mode="after")
    def _soft_limit_below_hard(self) -> CoreSettings:
        if self.task_soft_time_limit >= self.task_time_limit:
            raise ValueError(
                f"{ENV_PREFIX}TASK_SOFT_TIME_LIMIT ({self.task_soft_time_limit}) must be "
                f"below {ENV_PREFIX}TASK_TIME_LIMIT ({self.task_time_limit})"
            )
        return self

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "sluice.db"

    @property
    def api_key_file(self) -> Path:
        """Where `sluice up` keeps the key it generated, for the CLI to find."""
        return self.data_dir / "api_key"
