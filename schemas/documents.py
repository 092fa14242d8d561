"""The document warehouse as the API shows it: a document, a write's outcome, a delete's.

The API's responses; :mod:`sluice.client` reads them into these models. Fields the API adds
later are kept (``extra="allow"``), so an older client still reads a newer server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DocumentView(BaseModel):
    """``GET /v1/documents/{id}``: ``content`` is only set there, not in a write's answer."""

    model_config = ConfigDict(extra="allow")

    id: str
    source: str
    doc_id: str
    content_type: str
    content_hash: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    chunk_count: int | None = None
    indexed: bool = False
    indexed_at: datetime | None = None
    embed_job_id: str | None = None
    content: str | None = None


class DocumentWritten(BaseModel):
    """``POST /v1/documents``: ``changed`` False when the same content was stored already."""

    model_config = ConfigDict(extra="allow")

    document: DocumentView
    changed: bool
    embed_job_id: str | None = None


class DocumentDeleted(BaseModel):
    """``DELETE /v1/documents/{id}``: the job that removes the document's vectors."""

    model_config = ConfigDict(extra="allow")

    document_id: str
    delete_job_id: str
