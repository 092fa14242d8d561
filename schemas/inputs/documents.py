"""The inputs of the vector kinds: ``embed`` and ``delete`` a warehouse document, and the
internal ``vectors.switch_alias`` that points the live alias at a re-embedded collection."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EmbedInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    document_id: str = Field(min_length=1)
    source: str | None = None
    doc_id: str | None = None
    # Another collection than the live one (a re-embed into a fresh collection).
    collection: str | None = None
    # Re-upsert every chunk even when the document's hash is unchanged.
    force: bool = False


class DeleteInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    document_id: str = Field(min_length=1)
    source: str | None = None
    doc_id: str | None = None


class SwitchAliasInput(BaseModel):
    model_config = ConfigDict(extra="allow")

    alias: str | None = None
    collection: str = Field(min_length=1)
    drop_old: bool = False
