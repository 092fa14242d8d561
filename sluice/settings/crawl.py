"""Settings of the crawler: identity, the SSRF guard, politeness and size limits."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from sluice.settings.core import split_commas


class CrawlSettings(BaseModel):
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

    crawl_pdf: bool = Field(
        False,
        description="Also fetch application/pdf: a PDF is stored as a file and read page by "
        "page like an upload, under SLUICE_FILES_MAX_BYTES instead of the page limit.",
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

    @field_validator("crawl_allowed_networks", "crawl_content_types", mode="before")
    @classmethod
    def _comma_separated_crawl_lists(cls, value: Any) -> Any:
        return split_commas(value)
