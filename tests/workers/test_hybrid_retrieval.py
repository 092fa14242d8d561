"""Hybrid retrieval inside Qdrant (local mode), in-process with the real embedding model:
dense, BM25 and RRF fusion as trace steps, a collection made before hybrid retrieval served
dense until the alias moves to a hybrid one, and self-query filters as payload conditions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client.http import models as qm

from schemas.retrieval import QueryFilters
from sluice.settings import Settings, load_settings
from workers.embedding.model import EmbeddingModel, get_model
from workers.embedding.sparse import document_vector
from workers.embedding.tasks import text_hash
from workers.embedding.vectors import ChunkPoint, VectorIndex
from workers.retrieval.pipeline import ranked
from workers.retrieval.query_llm import filter_conditions

pytestmark = pytest.mark.slow

DOCUMENTS = [
    ("kb-1", "kb", "troubleshooting", "2025-03-01",
     "Error E-4012 on the Aquila router: the firmware signature check failed. Download the "
     "image again over a cable."),
    ("kb-2", "kb", "troubleshooting", "2025-06-01",
     "Error E-4021 on the Aquila router: the firmware signature check failed. Download the "
     "image again over a cable."),
    ("howto-1", "kb", "how-to", "2025-09-01",
     "How to wipe the Nimbus storage box back to factory settings: hold the reset button "
     "for ten seconds."),
    ("policy-1", "policies", "policy", "2026-01-15",
     "Returns: send any product back within thirty days of delivery for a full refund."),
]
STEPS = ["retrieval_semantic", "retrieval_bm25", "fusion_rrf", "reranking"]


class StepRecorder:
    def __init__(self) -> None:
        self.steps: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def step(self, name: str, **attrs: Any) -> Iterator[dict[str, Any]]:
        recorded = dict(attrs)
        yield recorded
        self.steps.append((name, recorded))

    def named(self, name: str) -> dict[str, Any]:
        return next(attrs for step, attrs in self.steps if step == name)


@pytest.fixture(scope="module")
def model() -> EmbeddingModel:
    return get_model()


def settings_for(tmp: Path, **overrides: Any) -> Settings:
    return load_settings(data_dir=str(tmp), qdrant_collection="chunks", **overrides)


def points(model: EmbeddingModel) -> list[ChunkPoint]:
    vectors = model.encode([text for *_, text in DOCUMENTS], batch_size=8)
    return [
        ChunkPoint(document_id=doc_id, source=source, doc_id=doc_id, chunk_index=0, text=text,
                   content_hash=text_hash(text), model=model.name, vector=vector,
                   sparse=document_vector(text, 20.0), doc_type=doc_type,
                   date=f"{day}T00:00:00+00:00")
        for (doc_id, source, doc_type, day, text), vector in zip(DOCUMENTS, vectors, strict=True)
    ]


@pytest.fixture
def index(tmp_path: Path, model: EmbeddingModel) -> Iterator[VectorIndex]:
    made = VectorIndex(settings_for(tmp_path), model.dimension)
    made.upsert(points(model))
    yield made
    made.close()


def search(index: VectorIndex, model: EmbeddingModel, query: str, mode: str,
           query_filter: qm.Filter | None = None, k: int = 2) -> tuple[list[str], StepRecorder]:
    steps = StepRecorder()
    settings = load_settings(reranker_path=None, reranker_package=None)
    found = ranked(steps, settings, index, model, [query], k, mode=mode, rerank=None,
                   query_filter=query_filter)
    return [hit.doc_id for hit in found.hits], steps


def test_an_exact_error_code_is_found_by_bm25_and_by_the_fusion(
    index: VectorIndex, model: EmbeddingModel
) -> None:
    sparse, _ = search(index, model, "What does E-4021 mean?", "sparse")
    hybrid, steps = search(index, model, "What does E-4021 mean?", "hybrid")

    assert sparse[0] == "kb-2" and hybrid[0] == "kb-2"
    assert [name for name, _ in steps.steps] == STEPS
    assert steps.named("retrieval_semantic")["results"] == [4]
    assert steps.named("retrieval_bm25")["results"][0] >= 2  # "e", "4021", "mean" ...
    fusion = steps.named("fusion_rrf")
    assert fusion["lists"] == 2 and fusion["results"] == 2 and fusion["distinct_candidates"] == 4
    assert steps.named("reranking")["skipped"].startswith("no reranker configured")


def test_a_paraphrase_is_found_by_the_dense_side(
    index: VectorIndex, model: EmbeddingModel
) -> None:
    dense, steps = search(index, model, "erase my NAS completely and start over", "dense")

    assert dense[0] == "howto-1"
    assert steps.named("retrieval_bm25")["skipped"] == "mode dense"
    assert steps.named("fusion_rrf")["skipped"] == "one ranked list: nothing to fuse"


def test_self_query_filters_restrict_by_type_source_and_date(
    index: VectorIndex, model: EmbeddingModel
) -> None:
    how_tos = QueryFilters(document_type="how-to")
    late = QueryFilters(date_from=date(2025, 5, 1), date_to=date(2025, 12, 31))
    policies = QueryFilters(source="policies")

    by_type, _ = search(index, model, "router firmware error", "hybrid",
                        qm.Filter(must=filter_conditions(how_tos)))
    by_date, _ = search(index, model, "router firmware error", "hybrid",
                        qm.Filter(must=filter_conditions(late)), k=4)
    by_source, _ = search(index, model, "router firmware error", "dense",
                          qm.Filter(must=filter_conditions(policies)))

    assert by_type == ["howto-1"]
    assert by_date == ["kb-2", "howto-1"]
    assert by_source == ["policy-1"]


def test_a_dense_only_collection_serves_dense_until_the_alias_moves_to_a_hybrid_one(
    tmp_path: Path, model: EmbeddingModel
) -> None:
    old = VectorIndex(settings_for(tmp_path / "old"), model.dimension)
    # What every collection was before hybrid retrieval: one unnamed dense vector.
    old.client.create_collection("chunks_before", vectors_config=qm.VectorParams(
        size=model.dimension, distance=qm.Distance.COSINE))
    old.upsert(points(model), "chunks_before")  # a live write to it stays dense-only
    old.switch_alias("chunks_before")
    try:
        found, steps = search(old, model, "What does E-4021 mean?", "hybrid")
        assert len(found) == 2
        assert "has no BM25 vector" in steps.named("retrieval_bm25")["skipped"]
        assert steps.named("fusion_rrf")["served"] == "dense"

        old.ensure_collection("chunks_reembedded")  # what a re-embed run fills
        old.upsert(points(model), "chunks_reembedded")
        old.switch_alias("chunks_reembedded")
        found, steps = search(old, model, "What does E-4021 mean?", "hybrid")
        assert found[0] == "kb-2" and steps.named("fusion_rrf")["served"] == "hybrid"
    finally:
        old.close()


def test_points_carry_the_metadata_self_query_filters_on(index: VectorIndex) -> None:
    records, _ = index.client.scroll(index.live(), limit=10, with_payload=True,
                                     with_vectors=True)
    first = next(record for record in records if (record.payload or {})["doc_id"] == "kb-1")
    payload = first.payload or {}

    assert payload["doc_type"] == "troubleshooting"
    assert payload["date"].startswith("2025-03-01")
    assert isinstance(first.vector, dict) and set(first.vector) == {"", "bm25"}
    assert np.isclose(np.linalg.norm(np.asarray(first.vector[""])), 1.0, atol=1e-3)


def test_a_query_without_words_finds_nothing_by_bm25_and_does_not_fail(
    index: VectorIndex, model: EmbeddingModel
) -> None:
    found, steps = search(index, model, "?!", "sparse")
    hybrid, _ = search(index, model, "?!", "hybrid")

    assert found == [] and len(hybrid) == 2  # the dense side still ranks every chunk
    assert steps.named("retrieval_bm25")["terms"] == [0]
