"""A search sees only its tenant's chunks; chunks written before tenants are the default
tenant's. Local Qdrant, no model: the vectors are made up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client.http import models as qm

from sluice.settings import load_settings
from workers.embedding.vectors import ChunkPoint, VectorIndex, point_id

DIMENSION = 4
QUERY = np.array([1, 0, 0, 0], dtype=np.float32)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[VectorIndex]:
    opened = VectorIndex(load_settings(data_dir=str(tmp_path)), DIMENSION)
    yield opened
    opened.close()


def chunk(doc_id: str, tenant: str) -> ChunkPoint:
    return ChunkPoint(
        document_id=doc_id, source="handbook", doc_id=doc_id, chunk_index=0, text=doc_id,
        content_hash=doc_id, model="test", vector=np.array([1, 0, 0, 0], dtype=np.float32),
        tenant=tenant,
    )


def found(index: VectorIndex, tenant: str | None) -> set[str]:
    return {hit.doc_id for hit in index.search(QUERY, k=10, tenant=tenant)}


def test_a_search_sees_only_its_tenants_chunks(index: VectorIndex) -> None:
    index.upsert([chunk("acme-doc", "acme"), chunk("globex-doc", "globex"),
                  chunk("default-doc", "default")])
    # A point from before tenants: no tenant in its payload at all.
    old = chunk("old-doc", "default")
    index.client.upsert(index.collection, points=[qm.PointStruct(
        id=point_id(old.source, old.doc_id, 0), vector=old.vector.tolist(),
        payload={"doc_id": old.doc_id, "source": old.source, "chunk_index": 0, "text": "old"},
    )])
    assert found(index, "acme") == {"acme-doc"}
    assert found(index, "globex") == {"globex-doc"}
    assert found(index, "default") == {"default-doc", "old-doc"}
    assert found(index, None) == {"acme-doc", "globex-doc", "default-doc", "old-doc"}
    assert {hit.doc_id for hit in index.search(QUERY, k=10, source="elsewhere",
                                               tenant="acme")} == set()
