"""The one settings object: environment variables prefixed ``SLUICE_``, or a ``.env`` file.

Every process (API, worker, CLI) reads the same object through :func:`get_settings`; a bad
value stops start-up with a message that names the variable, never a traceback deep inside
Celery or uvicorn.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.budget_rules import BudgetRule, parse_rules

ENV_PREFIX = "SLUICE_"


class SettingsError(Exception):
    """The environment holds a value Sluice cannot run with."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class MailboxSettings(BaseModel):
    """One IMAP mailbox that `sluice email poll` reads; each has its own checkpoint."""

    name: str = Field(description="Checkpoint and log name; unique among mailboxes.")
    host: str
    port: int = Field(993, ge=1, le=65535)
    ssl: bool = True
    username: str
    password: SecretStr
    folder: str = "INBOX"
    schema_name: str = Field(
        "support_ticket", description="Extraction schema for this mailbox's messages."
    )
    # "flag" sets processed_flag on each processed message; "move" moves it to move_to.
    processed: Literal["flag", "move"] = "flag"
    processed_flag: str = "$SluiceProcessed"
    move_to: str = "Processed"


class ScheduledBatch(BaseModel):
    """A batch transform that Celery beat starts on a cron schedule."""

    transform: str
    cron: str = Field("0 2 * * *", description="minute hour day-of-month month day-of-week")
    options: dict[str, Any] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        Path(".sluice"), description="Embedded data: SQLite store, Redis socket, local Qdrant."
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker (redis:// or redis+socket://). Unset: `sluice up` starts "
        "an embedded Redis under the data dir.",
    )
    mongodb_url: SecretStr | None = Field(
        None, description="MongoDB replica set for jobs and documents. Unset: embedded SQLite."
    )
    mongodb_database: str = Field("sluice", description="Database name inside MongoDB.")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer keys the API accepts. Unset: `sluice up` "
        "generates one and prints it.",
    )
    api_host: str = Field("127.0.0.1", description="Address the API binds to.")
    api_url: str | None = Field(
        None, description="Where the CLI reaches the API. Unset: http://API_HOST:API_PORT."
    )
    api_port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")
    max_request_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest request body the API accepts (413 above)."
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
        description="Comma-separated modules that define extra job kinds (a KINDS dict "
        "of kind -> queue, and the tasks); imported by the API and the workers.",
    )
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint (…/v1). Unset: `sluice up` starts the local "
        "Gemma server of the local-llm extra.",
    )
    llm_model: str = Field("gemma-3-270m", description="Model name sent to the endpoint.")
    llm_api_key: SecretStr = Field(
        SecretStr("sluice-local"), description="Key for the LLM endpoint."
    )
    llm_timeout_seconds: float = Field(
        60.0, gt=0, description="One LLM call's timeout; a timeout is a transient fault."
    )
    email_mailboxes: list[MailboxSettings] = Field(
        default_factory=list,
        description="IMAP mailboxes to poll, as JSON: [{\"name\", \"host\", \"port\", "
        "\"ssl\", \"username\", \"password\", \"folder\", \"schema_name\", "
        "\"processed\": \"flag\"|\"move\", \"move_to\"}].",
    )
    email_poll_interval_seconds: float = Field(
        60.0, gt=0, description="How often Celery beat polls every mailbox."
    )
    email_poll_batch: int = Field(
        200, ge=1, description="Messages fetched from a mailbox per poll, oldest first."
    )
    email_max_message_bytes: int = Field(
        25 * 1024 * 1024, ge=1024,
        description="Larger messages are dead-lettered (invalid_input) without parsing.",
    )
    email_max_text_chars: int = Field(
        50_000, ge=100, description="Text of one message sent to extraction; the rest is cut."
    )
    crawl_user_agent: str = Field(
        "SluiceBot/0.1 (+https://github.com/sluice)",
        description="User-Agent of the crawler; robots.txt rules are matched against it.",
    )
    crawl_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or CIDR networks the crawler may reach even "
        "though they are private, loopback or link-local (SSRF guard).",
    )
    crawl_max_page_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="Larger pages are refused, unread."
    )
    crawl_content_types: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["text/html", "application/xhtml+xml"],
        description="Comma-separated content types the crawler extracts; others are skipped.",
    )
    crawl_requests_per_second: float = Field(
        1.0, gt=0, description="Per-domain token-bucket rate; a robots.txt Crawl-delay "
        "lowers it further.",
    )
    crawl_burst: int = Field(1, ge=1, description="Per-domain token-bucket capacity.")
    crawl_timeout_seconds: float = Field(20.0, gt=0, description="One HTTP request's timeout.")
    crawl_max_redirects: int = Field(5, ge=0, description="Redirect hops followed per page.")
    crawl_max_token_wait_seconds: float = Field(
        5.0, ge=0,
        description="A fetch waits this long for its domain's token; longer waits requeue it.",
    )
    crawl_robots_ttl_seconds: float = Field(
        3600.0, gt=0, description="How long a fetched robots.txt is trusted."
    )
    cdc_collections: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["documents"],
        description="Comma-separated warehouse collections `sluice cdc` watches.",
    )
    cdc_metrics_port: int | None = Field(
        None, ge=1, le=65535,
        description="Port of the Prometheus endpoint of `sluice cdc` (lag, events). Unset: none.",
    )
    batch_max_in_flight: int = Field(
        50, ge=1, description="Items of one batch run queued or running at once."
    )
    batch_schedule: list[ScheduledBatch] = Field(
        default_factory=list,
        description="Batch runs Celery beat starts, as JSON: "
        "[{\"transform\": \"re-embed\", \"cron\": \"0 2 * * *\", \"options\": {}}].",
    )
    dashboard_host: str = Field("127.0.0.1", description="Address the DLQ dashboard binds to.")
    dashboard_port: int = Field(
        8001, ge=1, le=65535, description="Port the DLQ dashboard listens on."
    )
    dashboard_db_path: Path | None = Field(
        None, description="SQLite file of dashboard users, sessions, audit log. Unset: "
        "DATA_DIR/dashboard.db.",
    )
    dashboard_lease_seconds: float = Field(
        900.0, gt=0, description="How long a reviewer's claim on a dead job lasts unrenewed."
    )
    dashboard_renew_seconds: float = Field(
        60.0, gt=0, description="How often an open item page renews its claim's lease."
    )
    dashboard_sla_hours: float = Field(
        24.0, gt=0, description="Dead items older than this get a red age badge."
    )
    dashboard_session_hours: float = Field(
        12.0, gt=0, description="A dashboard sign-in lasts this long."
    )
    dashboard_secure_cookies: bool = Field(
        False, description="Mark dashboard cookies Secure (set when served over HTTPS)."
    )
    llm_budgets: Annotated[list[BudgetRule], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated LLM budgets SCOPE:MEASURE:PERIOD=LIMIT, scope global|key "
        "(per API key), measure tokens|cost, period hour|day|<N>s; e.g. "
        "global:tokens:hour=2000000,key:cost:day=5. Over budget a job waits for the window "
        "to roll. Unset: no budget.",
    )
    llm_price_input_per_million: float = Field(
        0.0, ge=0, description="Price of one million prompt tokens, for cost budgets and metrics."
    )
    llm_price_output_per_million: float = Field(
        0.0, ge=0, description="Price of one million completion tokens."
    )
    llm_budget_recheck_seconds: float = Field(
        300.0, gt=0,
        description="Longest a job waits for a budget window before checking again "
        "(kept below the visibility timeout).",
    )
    llm_pause_recheck_seconds: float = Field(
        5.0, gt=0, description="How often a job held by `sluice llm pause` checks again."
    )
    admin_api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated bearer keys allowed on /v1/admin (LLM pause/resume). "
        "Unset: the admin endpoints refuse every caller.",
    )
    submit_rate_per_minute: int | None = Field(
        None, ge=1,
        description="Job submissions per minute per API key (429 above). Unset: no limit.",
    )
    submit_burst: int | None = Field(
        None, ge=1, description="Submissions a key may make at once. Unset: the per-minute rate."
    )
    worker_metrics_port: int | None = Field(
        None, ge=0, le=65535,
        description="Port of a worker's Prometheus exporter (/metrics). Unset: no exporter.",
    )
    worker_metrics_host: str = Field("0.0.0.0", description="Address the worker exporter binds.")
    flower_user: str = Field("admin", description="Flower basic-auth user.")
    flower_password: SecretStr | None = Field(
        None, description="Flower basic-auth password; `sluice flower` refuses to start without it."
    )
    flower_host: str = Field("127.0.0.1", description="Address Flower binds to.")
    flower_port: int = Field(5555, ge=1, le=65535, description="Port Flower listens on.")
    llm_fallback_urls: str = Field(
        "",
        description="Comma-separated further OpenAI-compatible endpoints, tried in order "
        "when the one before is unreachable (same model name and key).",
    )
    llm_structured_mode: str = Field(
        "auto",
        description="What the endpoint enforces: auto (probe once with a canary schema and "
        "cache it), json_schema, json_object_schema (llama.cpp), json_object or prompt.",
    )
    llm_system_in_user: bool = Field(
        False,
        description="Put the system prompt into the first user message (chat templates "
        "that drop system messages, e.g. Gemma). Always on for the local Gemma server.",
    )
    schemas: str = Field(
        "",
        description="Comma-separated user extraction schemas, `module:Model` (pydantic "
        "models); also loaded from the `sluice.schemas` entry-point group.",
    )
    extract_max_attempts: int = Field(
        3, ge=1, description="LLM attempts per extraction job before dead/exhausted."
    )
    extract_max_tokens: int = Field(
        20000, ge=1, description="Token budget (prompt + completion, all attempts) per job."
    )
    extract_max_seconds: float = Field(
        300.0, gt=0, description="Wall-time budget of one extraction job across deliveries."
    )
    extract_completion_tokens: int = Field(
        512, ge=16, description="max_tokens of one extraction call (doubled once on truncation)."
    )
    extract_temperature: float = Field(
        0.0, ge=0, le=2, description="Temperature of the first attempt."
    )
    extract_retry_temperature: float = Field(
        0.7,
        ge=0,
        le=2,
        description="Temperature of correction attempts: at 0 a small model repeats itself.",
    )
    sinks: str = Field(
        "records",
        description="Comma-separated sinks for accepted records: records (a collection in "
        "the store), jsonl (SLUICE_SINK_JSONL_PATH), webhook (SLUICE_SINK_WEBHOOK_URL).",
    )
    sink_max_retries: int = Field(
        20, ge=0, description="Retries of a record delivery to a sink that is down (with the "
        "backoff capped at SLUICE_RETRY_BACKOFF_MAX_SECONDS, 20 is about 1.5 hours) before "
        "the delivery job is dead/exhausted.",
    )
    sink_jsonl_path: Path | None = Field(
        None, description="JSONL file the jsonl sink appends to. Unset: DATA_DIR/records.jsonl."
    )
    sink_webhook_url: str | None = Field(
        None, description="URL the webhook sink POSTs records to (Idempotency-Key: job id)."
    )
    sink_webhook_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of one webhook delivery; a timeout is retried."
    )
    qdrant_url: str | None = Field(
        None, description="Qdrant server. Unset: local mode under the data dir (one worker "
        "process only; the API never opens it)."
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key of the Qdrant server.")
    qdrant_collection: str = Field("sluice_chunks", description="Collection of chunk vectors.")
    qdrant_upsert_batch: int = Field(
        128, ge=64, le=256, description="Points per Qdrant upsert call."
    )
    embedding_chunk_tokens: int = Field(
        256, ge=16, description="Tokens per chunk, capped at the model's max sequence length."
    )
    embedding_chunk_overlap_tokens: int = Field(
        32, ge=0, description="Tokens shared by consecutive chunks of a document."
    )
    embedding_batch_size: int = Field(32, ge=1, description="Chunks per model forward pass.")
    embedding_cache_max_entries: int = Field(
        1_000_000, ge=0,
        description="Vectors the embedding cache keeps (about 1.6 KB each for the default "
        "model), least recently used evicted first. 0: no bound.",
    )
    retrieval_k: int = Field(5, ge=1, le=100, description="Chunks retrieved when k is not given.")
    ask_max_tokens: int = Field(512, ge=1, description="Longest answer /v1/ask generates.")
    ask_temperature: float = Field(0.2, ge=0, description="Sampling temperature of answers.")
    ask_wait_seconds: float = Field(
        120.0, gt=0, description="How long /v1/ask and /v1/search wait for their job's result."
    )
    token_stream_ttl_seconds: int = Field(
        3600, ge=60, description="How long a job's token stream stays readable for resumes."
    )
    job_events_ttl_seconds: int = Field(
        3600, ge=60,
        description="How long a job's stream of versions (GET /v1/jobs/{id}/events) is kept "
        "after its last change.",
    )
    warehouse_change_stream: bool = Field(
        False, description="Document writes leave embed jobs to `sluice cdc` (MongoDB change "
        "stream) instead of enqueueing them directly."
    )
    log_level: str = Field("INFO", description="Log level of every Sluice process.")
    log_json: bool = Field(False, description="Log JSON lines instead of console text.")

    @field_validator(
        "crawl_allowed_networks", "crawl_content_types", "cdc_collections", mode="before"
    )
    @classmethod
    def _comma_separated_producer_lists(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("api_keys", "plugins", "admin_api_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_commas(value)

    @field_validator("llm_budgets", mode="before")
    @classmethod
    def _budget_rules(cls, value: Any) -> Any:
        return parse_rules(value)

    @model_validator(mode="after")
    def _soft_limit_below_hard(self) -> Settings:
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
    def effective_api_url(self) -> str:
        return (self.api_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def api_key_file(self) -> Path:
        """Where `sluice up` keeps the key it generated, for the CLI to find."""
        return self.data_dir / "api_key"

    def api_key_values(self) -> list[str]:
        return [key.get_secret_value() for key in self.api_keys]

    def admin_key_values(self) -> list[str]:
        return [key.get_secret_value() for key in self.admin_api_keys]


def api_key_id(key: str) -> str:
    """A key's public name for budgets, rate limits, logs and metrics: never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; turn pydantic's errors into one that names the variables."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            name = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None


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
