"""Which model and backend filled a Qdrant collection, and the refusal to mix another in.

Vectors of one model on two backends (torch, ONNX, ONNX int8) differ slightly, and vectors
of two models are not comparable at all, so a collection is only ever written and searched
by the one that filled it. A new collection records it in its metadata
(``embedding_model``: the model's label, ``workers.embedding.backends.model_label``). A
collection made before the record existed is stamped on first use with the ``model``
payload of its points, or, when it has none, with the current model. Changing backend means
a re-embed into a new collection (``sluice batch run re-embed``), which records the new one.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient

MODEL_KEY = "embedding_model"


class EmbeddingModelMismatch(Exception):
    """The collection was filled by another model or backend than this process runs."""

    def __init__(self, collection: str, recorded: str, current: str) -> None:
        super().__init__(
            f"collection {collection!r} holds vectors of {recorded!r}, but this process "
            f"embeds with {current!r}; their vectors must not be mixed. Set "
            "SLUICE_EMBEDDING_BACKEND back to the backend that filled it, or re-embed into "
            "a new collection with `sluice batch run re-embed`."
        )
        self.collection, self.recorded, self.current = collection, recorded, current


def metadata_for(model: str) -> dict[str, Any]:
    return {MODEL_KEY: model}


def recorded_model(client: QdrantClient, collection: str) -> str | None:
    metadata = client.get_collection(collection).config.metadata or {}
    value = metadata.get(MODEL_KEY)
    return None if value is None else str(value)


def check_collection_model(client: QdrantClient, collection: str, model: str) -> None:
    """Refuse ``collection`` when another model filled it; stamp it when it has no record."""
    recorded = recorded_model(client, collection)
    if recorded is None:
        points, _ = client.scroll(collection, limit=1, with_payload=["model"],
                                  with_vectors=False)
        found = (points[0].payload or {}).get("model") if points else None
        recorded = str(found) if found is not None else model
        client.update_collection(collection, metadata=metadata_for(recorded))
    if recorded != model:
        raise EmbeddingModelMismatch(collection, recorded, model)


__all__ = ["EmbeddingModelMismatch", "check_collection_model", "metadata_for", "recorded_model"]
