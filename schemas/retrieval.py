"""Search hits and answers as the API returns them (``GET /v1/search``, ``POST /v1/ask``).

Read by :mod:`sluice.client`; fields added later are kept (``extra="allow"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.job import TraceStep


class SearchHit(BaseModel):
    model_config = ConfigDict(extra="allow")

    score: float
    doc_id: str
    source: str
    chunk_index: int
    text: str
    document_id: str | None = None  # the warehouse id, for GET /v1/documents/{id}
    page: int | None = None  # the chunk's page in its file (PDF), for "file, page" citations
    file: str | None = None  # the file's name (an upload, an email attachment)


class SearchResults(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str
    query: str
    hits: list[SearchHit]


class AnswerSource(SearchHit):
    """A retrieved chunk as the answer cites it: ``[n]``."""

    n: int


class Answer(BaseModel):
    """``POST /v1/ask``: the answer, its numbered sources and the trace of every step."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    answer: str | None = None
    sources: list[AnswerSource] = Field(default_factory=list)
    prompt_version: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    trace: list[TraceStep] = Field(default_factory=list)
