"""Search hits and answers as the API returns them (``GET /v1/search``, ``POST /v1/ask``).

Read by :mod:`sluice.client`; fields added later are kept (``extra="allow"``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

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
    doc_type: str | None = None
    date: str | None = None


class SearchResults(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str
    query: str
    hits: list[SearchHit]
    mode: str | None = None  # asked for
    served: str | None = None  # what ran: dense on a collection made before hybrid retrieval


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
    mode: str | None = None
    served: str | None = None
    trace: list[TraceStep] = Field(default_factory=list)


class QueryReformulations(BaseModel):
    """Query expansion's output: other wordings of the question, searched beside it."""

    model_config = ConfigDict(extra="forbid")

    queries: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                   max_length=300)]] = Field(min_length=1)


class QueryFilters(BaseModel):
    """Self-query's output: the metadata a question itself restricts the search to.

    A value must be stated in the question: a source or document type the question does not
    name (checked against ``question`` in the validation context) is an invalid output, not
    a filter, since a wrong filter silently hides the answer.
    """

    model_config = ConfigDict(extra="forbid")

    source: str | None = None
    document_type: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @field_validator("source", "document_type")
    @classmethod
    def _named_in_question(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        question = str((info.context or {}).get("question", ""))
        if question and value.strip().lower() not in question.lower():
            raise ValueError(f"{value!r} does not occur in the question")
        return value.strip()

    @model_validator(mode="after")
    def _ordered(self) -> QueryFilters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self

    def is_empty(self) -> bool:
        return not any((self.source, self.document_type, self.date_from, self.date_to))
