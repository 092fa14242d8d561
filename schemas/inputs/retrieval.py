"""The inputs of the retrieval kinds: ``search`` (hybrid retrieval) and ``ask`` (retrieval
plus a generated answer)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RetrievalMode = Literal["dense", "sparse", "hybrid"]
MAX_EXPANSIONS = 5


class RetrievalOptions(BaseModel):
    """How to retrieve; every option is optional and defaults to the settings."""

    model_config = ConfigDict(extra="allow")

    k: int | None = Field(None, ge=1)
    source: str | None = None
    mode: RetrievalMode | None = Field(
        None, description="dense, sparse (BM25) or hybrid (both, RRF-fused); "
        "default SLUICE_RETRIEVAL_MODE (hybrid).")
    rerank: bool | None = Field(
        None, description="Rerank with the cross-encoder; default: when one is configured.")
    expand: int = Field(
        0, ge=0, le=MAX_EXPANSIONS,
        description="Ask the LLM for this many reformulations and fuse their results.")
    self_query: bool = Field(
        False, description="Ask the LLM which source, document type and dates the question "
        "names, and filter by them.")


class SearchInput(RetrievalOptions):
    q: str = ""


class AskInput(RetrievalOptions):
    question: str = ""
