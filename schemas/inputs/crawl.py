"""The input of a ``crawl.fetch`` job: one URL of one crawl, with the crawl's bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CrawlFetchInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str = Field(min_length=1)
    depth: int = Field(ge=0)
    crawl_id: str = Field(min_length=1)
    seed_hosts: list[str]
    max_depth: int = Field(ge=0)
    max_pages: int = Field(ge=0)
    scope: str = Field(description="\"site\" or \"any\"")
