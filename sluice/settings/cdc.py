"""Settings of change data capture (`sluice cdc`) and of who queues re-embedding."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from sluice.settings.core import split_commas


class CDCSettings(BaseModel):
    cdc_collections: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["documents"],
        description="Comma-separated warehouse collections `sluice cdc` watches.",
    )

    cdc_metrics_port: int | None = Field(
        None, ge=1, le=65535,
        description="Port of the Prometheus endpoint of `sluice cdc` (lag, events). Unset: none.",
    )

    cdc_metrics_host: str = Field(
        "0.0.0.0", description="Address the `sluice cdc` exporter binds (all interfaces, so "
        "Prometheus can scrape it from another container or pod).",
    )

    warehouse_change_stream: bool = Field(
        False, description="Document writes leave embed jobs to `sluice cdc` (MongoDB change "
        "stream) instead of enqueueing them directly."
    )

    @field_validator("cdc_collections", mode="before")
    @classmethod
    def _comma_separated_collections(cls, value: Any) -> Any:
        return split_commas(value)
