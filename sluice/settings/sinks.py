"""Settings of the sinks that receive accepted records.

``SLUICE_SINKS`` is checked against :data:`SINK_NAMES` when the settings load, so an
unknown sink stops start-up instead of failing the first delivery.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator

# The sinks Sluice has (:mod:`libs.sinks`); a new sink adds its name here.
SINK_NAMES = ("records", "jsonl", "webhook")


def sink_names(value: str) -> list[str]:
    """The comma-separated names of ``SLUICE_SINKS``, in order."""
    return [name.strip() for name in value.split(",") if name.strip()]


class SinkSettings(BaseModel):
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

    @field_validator("sinks")
    @classmethod
    def _known_sinks(cls, value: str) -> str:
        unknown = [name for name in sink_names(value) if name not in SINK_NAMES]
        if unknown:
            raise ValueError(f"unknown sink(s) {unknown}; known: {list(SINK_NAMES)}")
        return value
