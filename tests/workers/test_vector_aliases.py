"""The live collection name is an alias from the start, so every re-embed switches it in
one atomic call. Local Qdrant, no model: the vectors are made up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm

from sluice.settings import Settings, load_settings
from workers.embedding.vectors import INITIAL_SUFFIX, ChunkPoint, VectorIndex, point_id

DIMENSION = 4


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=str(tmp_path))


@pytest.fixture
def index(settings: Settings) -> Iterator[VectorIndex]:
    opened = VectorIndex(settings, DIMENSION)
    yield opened
    opened.close()


def chunk(doc_id: str, vector: list[float]) -> ChunkPoint:
    return ChunkPoint(
        document_id=doc_id, source="handbook", doc_id=doc_id, chunk_index=0, text=doc_id,
        content_hash=doc_id, model="test", vector=np.array(vector, dtype=np.float32),
    )


def aliases(client: QdrantClient) -> dict[str, str]:
    return {a.alias_name: a.collection_name for a in client.get_aliases().aliases}


def test_a_new_installation_reads_through_an_alias_of_its_first_collection(
    index: VectorIndex,
) -> None:
    live = index.collection
    assert aliases(index.client) == {live: f"{live}{INITIAL_SUFFIX}"}
    index.upsert([chunk("refunds", [1, 0, 0, 0])])
    assert [hit.doc_id for hit in index.search(np.array([1, 0, 0, 0]), k=1)] == ["refunds"]
    assert index.family() == [f"{live}{INITIAL_SUFFIX}"]


def test_the_first_switch_is_one_alias_update_and_keeps_the_first_collection(
    index: VectorIndex,
) -> None:
    live, first = index.collection, f"{index.collection}{INITIAL_SUFFIX}"
    index.upsert([chunk("refunds", [1, 0, 0, 0])])
    target = f"{live}_run1"
    index.ensure_collection(target)
    index.upsert([chunk("shipping", [0, 1, 0, 0])], collection=target)

    outcome = index.switch_alias(target)

    assert (outcome.previous, outcome.switched, outcome.dropped) == (first, True, None)
    assert aliases(index.client) == {live: target}
    assert [hit.doc_id for hit in index.search(np.array([0, 1, 0, 0]), k=1)] == ["shipping"]
    # The collection left behind is still there to switch back to.
    assert index.switch_alias(first).previous == target
    assert [hit.doc_id for hit in index.search(np.array([1, 0, 0, 0]), k=1)] == ["refunds"]


def test_an_older_installation_with_a_real_live_collection_keeps_its_points_until_the_switch(
    settings: Settings,
) -> None:
    live = settings.qdrant_collection
    client = QdrantClient(path=str(settings.data_dir / "qdrant"))
    client.create_collection(
        live, vectors_config=qm.VectorParams(size=DIMENSION, distance=qm.Distance.COSINE))
    old = chunk("refunds", [1, 0, 0, 0])
    client.upsert(live, points=[qm.PointStruct(
        id=point_id(old.source, old.doc_id, 0), vector=old.vector.tolist(),
        payload={"doc_id": old.doc_id, "source": old.source, "chunk_index": 0})])
    client.close()

    index = VectorIndex(settings, DIMENSION)
    try:
        assert aliases(index.client) == {}
        assert index.count() == 1
        target = f"{live}_run1"
        index.ensure_collection(target)
        index.upsert([old], collection=target)
        outcome = index.switch_alias(target)
        # Qdrant cannot rename: the real collection makes way for the alias.
        assert (outcome.previous, outcome.dropped) == (live, live)
        assert aliases(index.client) == {live: target}
        assert index.count() == 1
    finally:
        index.close()
