"""Settings of embedding and retrieval: Qdrant, chunking, the embedding cache, answers."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class RetrievalSettings(BaseModel):
    qdrant_url: str | None = Field(
        None, description="Qdrant server. Unset: local mode under the data dir (one worker "
        "process only; the API never opens it)."
    )

    qdrant_api_key: SecretStr | None = Field(None, description="API key of the Qdrant server.")

    qdrant_collection: str = Field("sluice_chunks", description="Collection of chunk vectors.")

    qdrant_upsert_batch: int = Field(
        128, ge=64, le=256, description="Points per Qdrant upsert call."
    )

    embedding_chunk_tokens: int = Field(
        256, ge=16, description="Tokens per chunk, capped at the model's max sequence length."
    )

    embedding_chunk_overlap_tokens: int = Field(
        32, ge=0, description="Tokens shared by consecutive chunks of a document."
    )

    embedding_batch_size: int = Field(32, ge=1, description="Chunks per model forward pass.")

    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "torch", description="What runs the embedding model: torch, or sentence-transformers' "
        "ONNX backend in float32 or int8 (the `embedding-onnx` extra; exported from the "
        "packaged model on first use into the data dir, never downloaded). A collection "
        "keeps the backend that filled it and refuses another.",
    )

    embedding_cache_max_entries: int = Field(
        1_000_000, ge=0,
        description="Vectors the embedding cache keeps (about 1.6 KB each for the default "
        "model), least recently used evicted first. 0: no bound.",
    )

    retrieval_k: int = Field(5, ge=1, le=100, description="Chunks retrieved when k is not given.")

    retrieval_mode: Literal["dense", "sparse", "hybrid"] = Field(
        "hybrid", description="Retrieval when a search or ask names no mode: dense vectors, "
        "sparse BM25, or both fused by Qdrant (RRF). A collection made before hybrid "
        "retrieval serves dense until it is re-embedded."
    )

    retrieval_candidates: int = Field(
        50, ge=1, le=1000, description="Candidates each side (dense, BM25) hands to the fusion."
    )

    retrieval_bm25_avg_length: float = Field(
        100.0, gt=0, description="Words in an average chunk, for BM25's length normalisation."
    )

    reranker_path: Path | None = Field(
        None, description="A sentence-transformers CrossEncoder saved in this folder reranks "
        "the top candidates (never downloaded). Unset with no package: no reranking."
    )

    reranker_package: str | None = Field(
        None, description="An installed package whose get_model_path() gives the CrossEncoder "
        "folder (used when SLUICE_RERANKER_PATH is unset)."
    )

    reranker_top_n: int = Field(
        20, ge=1, le=200, description="Fused candidates the cross-encoder scores."
    )

    query_llm_max_tokens: int = Field(
        256, ge=16, description="Longest completion of a query expansion or self-query call."
    )

    ask_max_tokens: int = Field(512, ge=1, description="Longest answer /v1/ask generates.")

    ask_temperature: float = Field(0.2, ge=0, description="Sampling temperature of answers.")

    ask_wait_seconds: float = Field(
        120.0, gt=0, description="How long /v1/ask and /v1/search wait for their job's result."
    )
