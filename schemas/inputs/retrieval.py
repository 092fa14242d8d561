"""The inputs of the retrieval kinds: ``search`` (hybrid retrieval) and ``ask`` (retrieval
plus a generated answer)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SearchInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    q: str = ""
    k: int | None = Field(None, ge=1)
    source: str | None = None


class AskInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    question: str = ""
    k: int | None = Field(None, ge=1)
    source: str | None = None
