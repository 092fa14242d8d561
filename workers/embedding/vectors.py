"""The chunk vectors in Qdrant: collections, batched upserts, deletes by document, queries.

What a point holds is :mod:`workers.embedding.points`; an existing point with the same
content_hash and model needs no upsert at all. The warehouse's document_id is what a delete
that only knows the id (a change-stream delete event without a pre-image) filters by.

A collection is created hybrid: the dense vector (unnamed, cosine) and the sparse BM25
vector with Qdrant's IDF modifier. One made before that is dense only; it keeps serving
dense searches (:meth:`VectorIndex.has_sparse` says which shape a collection has) until a
re-embed fills a new, hybrid collection and switches the alias to it.

``SLUICE_QDRANT_COLLECTION`` is the live name searches read: an alias, created with its first
collection ``<name>_initial`` and switched by each re-embed to ``<name>_<run id>``. Writes may
name another collection (a re-embed fills its new one while searches still read the old),
created on first use.

``SLUICE_QDRANT_URL`` names a server; unset, Qdrant runs in local mode under
``DATA_DIR/qdrant``, which one process only may open: the worker. The API never imports this.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from qdrant_client import QdrantClient
from qdrant_client.http import models as qm

from sluice.private_files import private_directory
from sluice.settings import Settings
from workers.embedding.collection_model import check_collection_model, metadata_for
from workers.embedding.point_filters import document_filter, match_field, tenant_condition
from workers.embedding.points import SPARSE_VECTOR, ChunkPoint, Hit, point_id

__all__ = ["AliasSwitch", "AliasTargetMissing", "ChunkPoint", "Hit", "VectorIndex",
           "VectorStoreBusy", "get_index", "point_id", "tenant_condition"]

log = structlog.get_logger(__name__)
INITIAL_SUFFIX = "_initial"


class AliasTargetMissing(Exception):
    """The collection an alias switch names does not exist (its re-embed wrote nothing)."""


class VectorStoreBusy(Exception):
    """Local Qdrant is open in another process; only one worker process may run in local
    mode (use ``--pool threads``), or set ``SLUICE_QDRANT_URL`` to a server."""


@dataclass(frozen=True)
class AliasSwitch:
    alias: str
    collection: str
    previous: str | None  # what the alias (or the collection of its name) was before
    switched: bool  # False: the alias already pointed there (a repeated switch)
    dropped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"alias": self.alias, "collection": self.collection, "previous": self.previous,
                "switched": self.switched, "dropped": self.dropped}


class VectorIndex:
    def __init__(self, settings: Settings, dimension: int, model: str | None = None) -> None:
        self.collection = settings.qdrant_collection
        self.dimension = dimension
        # The label of the model (and backend) whose vectors go in; None: no check.
        self.model = model
        self.batch = settings.qdrant_upsert_batch
        self.local = settings.qdrant_url is None
        if settings.qdrant_url is not None:
            key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
            self.client = QdrantClient(url=settings.qdrant_url, api_key=key)
        else:
            path = settings.data_dir / "qdrant"
            private_directory(path)
            try:
                self.client = QdrantClient(path=str(path))
            except RuntimeError as exc:
                if "already accessed" in str(exc):
                    raise VectorStoreBusy(
                        f"{exc}: local Qdrant allows one process; run the one worker that "
                        "consumes cpu and gpu with --pool threads, or set SLUICE_QDRANT_URL"
                    ) from exc
                raise
        # Local mode is plain Python over shared dicts: one caller at a time.
        self._lock = threading.Lock()
        self._known: set[str] = set()
        # Physical collection -> has the sparse vector; a collection's shape never changes.
        self._sparse: dict[str, bool] = {}
        self._model_checked: set[str] = set()
        self.ensure_collection(self.collection)

    def _name(self, collection: str | None) -> str:
        return collection or self.collection

    def ensure_collection(self, collection: str) -> None:
        """Create ``collection`` (this model's size, cosine) unless it, or an alias of that
        name, exists; checked once per process and name.

        The live name is born an alias of ``<name>_initial``: Qdrant cannot rename, so a live
        name that were a real collection could only become an alias by being dropped first,
        and searches would fail in that gap at the first re-embed.
        """
        if collection in self._known:
            return
        with self._lock:
            if not self.client.collection_exists(collection):
                if collection == self.collection:
                    physical = f"{collection}{INITIAL_SUFFIX}"
                    self._create(physical)
                    try:
                        self.client.update_collection_aliases(change_aliases_operations=[
                            qm.CreateAliasOperation(create_alias=qm.CreateAlias(
                                collection_name=physical, alias_name=collection)),
                        ])
                    except Exception:
                        # Another worker process of a Qdrant server created it first.
                        if not self.client.collection_exists(collection):
                            raise
                else:
                    self._create(collection)
            self._known.add(collection)

    def check_model(self, collection: str) -> None:
        """Refuse to write or search ``collection`` when another model or backend filled
        it (once per process and name; deletes are never refused)."""
        if self.model is None or collection in self._model_checked:
            return
        with self._lock:
            check_collection_model(self.client, collection, self.model)
        self._model_checked.add(collection)

    def _create(self, collection: str) -> None:
        if self.client.collection_exists(collection):
            return
        try:
            self.client.create_collection(
                collection, vectors_config=qm.VectorParams(
                    size=self.dimension, distance=qm.Distance.COSINE),
                sparse_vectors_config={
                    SPARSE_VECTOR: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
                metadata=metadata_for(self.model) if self.model else None,
            )
        except Exception:
            # Another worker process of a Qdrant server created it first.
            if not self.client.collection_exists(collection):
                raise
        else:
            self._payload_indexes(collection)

    def _payload_indexes(self, collection: str) -> None:
        if self.local:  # payload indexes do nothing in local mode
            return
        for field in ("source", "doc_id", "document_id", "tenant", "doc_type"):
            self.client.create_payload_index(collection, field, qm.PayloadSchemaType.KEYWORD)
        self.client.create_payload_index(collection, "chunk_index", qm.PayloadSchemaType.INTEGER)
        self.client.create_payload_index(collection, "date", qm.PayloadSchemaType.DATETIME)

    def _physical(self) -> set[str]:
        return {found.name for found in self.client.get_collections().collections}

    def _physical_name(self, name: str) -> str:
        if name != self.collection:
            return name
        with self._lock:
            return self._alias_target() or name

    def _alias_target(self) -> str | None:
        for alias in self.client.get_aliases().aliases:
            if alias.alias_name == self.collection:
                return str(alias.collection_name)
        return None

    def live(self) -> str:
        """The physical collection the alias points at now (a search queries it by that name,
        so its shape and its points come from one collection even mid-switch)."""
        with self._lock:
            return self._alias_target() or self.collection

    def has_sparse(self, collection: str) -> bool:
        """Whether ``collection`` (physical) has the BM25 vector: False for one made before
        hybrid retrieval, which serves dense searches until a re-embed replaces it."""
        known = self._sparse.get(collection)
        if known is None:
            with self._lock:
                info = self.client.get_collection(collection)
            known = SPARSE_VECTOR in (info.config.params.sparse_vectors or {})
            self._sparse[collection] = known
        return known

    def query(self, collection: str, **request: Any) -> list[Hit]:
        """One Query API call (``query_points``) on ``collection``, payload included."""
        self.check_model(collection)
        with self._lock:
            response = self.client.query_points(collection, with_payload=True, **request)
        return [Hit.of(point) for point in response.points]

    def query_batch(self, collection: str, requests: list[qm.QueryRequest]) -> list[list[Hit]]:
        """Several queries of ``collection`` in one ``query_batch_points`` call."""
        if not requests:
            return []
        self.check_model(collection)
        with self._lock:
            responses = self.client.query_batch_points(collection, requests=requests)
        return [[Hit.of(point) for point in response.points] for response in responses]

    def family(self) -> list[str]:
        """The live collection and every other ``<name>_*`` one (staged by a re-embed, or
        kept after a switch): a deleted document must leave all of them."""
        prefix = f"{self.collection}_"
        with self._lock:
            names = self._physical()
            live = self._alias_target() or (self.collection if self.collection in names else None)
        staged = sorted(name for name in names if name.startswith(prefix) and name != live)
        return ([live] if live else []) + staged

    def switch_alias(self, target: str, *, drop_old: bool = False) -> AliasSwitch:
        """Point the alias ``SLUICE_QDRANT_COLLECTION`` at ``target``: one
        ``update_collection_aliases`` call deleting and creating it, so a search sees the
        old collection or the new one, never neither. Repeating it is a no-op.

        Only an installation made before the live name was born an alias has a real
        collection under that name; Qdrant has no rename, so the first switch there drops
        it and creates the alias in two calls (in local mode this index's lock keeps
        searches of this process out of the gap; with a server, a search in that instant
        fails).
        """
        alias = self.collection
        if target == alias:
            raise AliasTargetMissing(f"{target!r} is the alias itself, not a collection")
        with self._lock:
            names = self._physical()
            if target not in names:
                raise AliasTargetMissing(f"collection {target!r} does not exist")
            current = self._alias_target()
            if current == target:
                return AliasSwitch(alias, target, previous=target, switched=False)
            create = qm.CreateAliasOperation(
                create_alias=qm.CreateAlias(collection_name=target, alias_name=alias))
            dropped = None
            if current is not None:
                self.client.update_collection_aliases(change_aliases_operations=[
                    qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias)),
                    create,
                ])
                previous: str | None = current
            else:
                previous = alias if alias in names else None
                if previous is not None:
                    self.client.delete_collection(alias)
                    dropped = alias
                self.client.update_collection_aliases(change_aliases_operations=[create])
            if drop_old and current is not None:
                self.client.delete_collection(current)
                dropped = current
            self._known.discard(alias)
            if dropped is not None:
                self._known.discard(dropped)
        log.info("qdrant alias switched", alias=alias, collection=target, previous=previous,
                 dropped=dropped)
        return AliasSwitch(alias, target, previous=previous, switched=True, dropped=dropped)

    def stored_hashes(
        self, ids: Sequence[str], collection: str | None = None
    ) -> dict[str, tuple[str, str]]:
        """(content_hash, model) of those of ``ids`` that exist."""
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(ids), 1000):
            with self._lock:
                records = self.client.retrieve(
                    self._name(collection), ids=list(ids[start:start + 1000]),
                    with_payload=["content_hash", "model"], with_vectors=False,
                )
            for record in records:
                payload = record.payload or {}
                found[str(record.id)] = (
                    str(payload.get("content_hash")), str(payload.get("model"))
                )
        return found

    def upsert(self, points: Sequence[ChunkPoint], collection: str | None = None) -> int:
        """Upsert in batches of ``SLUICE_QDRANT_UPSERT_BATCH``; returns the batch count."""
        self.check_model(self._name(collection))
        batches = 0
        name = self._name(collection)
        with_sparse = self.has_sparse(self._physical_name(name))
        for start in range(0, len(points), self.batch):
            structs = [point.struct(with_sparse=with_sparse)
                       for point in points[start:start + self.batch]]
            with self._lock:
                self.client.upsert(name, points=structs, wait=True)
            batches += 1
        return batches

    def delete_ids(self, ids: Iterable[str], collection: str | None = None) -> None:
        wanted = list(ids)
        if wanted:
            with self._lock:
                self.client.delete(
                    self._name(collection), points_selector=qm.PointIdsList(points=list(wanted)),
                    wait=True,
                )

    def count(self, source: str | None = None, doc_id: str | None = None) -> int:
        conditions: list[qm.Condition] = []
        if source is not None:
            conditions.append(qm.FieldCondition(key="source", match=qm.MatchValue(value=source)))
        if doc_id is not None:
            conditions.append(qm.FieldCondition(key="doc_id", match=qm.MatchValue(value=doc_id)))
        with self._lock:
            result = self.client.count(
                self.collection, count_filter=qm.Filter(must=conditions) if conditions else None,
                exact=True,
            )
        return int(result.count)

    def delete_document(
        self, document_id: str, source: str | None = None, doc_id: str | None = None,
        collection: str | None = None,
    ) -> int:
        """Delete every point of a document, whatever its chunk count was; returns how many."""
        selected = document_filter(document_id, source, doc_id)
        name = self._name(collection)
        with self._lock:
            existing = self.client.count(name, count_filter=selected, exact=True)
            self.client.delete(
                name, points_selector=qm.FilterSelector(filter=selected), wait=True
            )
        return int(existing.count)

    def delete_tail(
        self, source: str, doc_id: str, from_index: int, collection: str | None = None
    ) -> int:
        """Delete a document's points from chunk ``from_index`` on, found by filter: for a
        row that has no record of how far its chunks went (deleted and posted again)."""
        selected = qm.Filter(must=[
            match_field("source", source), match_field("doc_id", doc_id),
            qm.FieldCondition(key="chunk_index", range=qm.Range(gte=from_index)),
        ])
        name = self._name(collection)
        with self._lock:
            existing = self.client.count(name, count_filter=selected, exact=True)
            if existing.count:
                self.client.delete(
                    name, points_selector=qm.FilterSelector(filter=selected),
                    wait=True,
                )
        return int(existing.count)

    def search(
        self, vector: np.ndarray, k: int, source: str | None = None, tenant: str | None = None
    ) -> list[Hit]:
        """The ``k`` nearest chunks by the dense vector alone (of ``source``; of ``tenant``
        unless None). Searches by mode go through :mod:`workers.retrieval.hybrid`."""
        conditions: list[Any] = []
        if source is not None:
            conditions.append(match_field("source", source))
        if tenant is not None:
            conditions.append(tenant_condition(tenant))
        query_filter = qm.Filter(must=conditions) if conditions else None
        self.check_model(self.collection)
        return self.query(self.live(), query=vector.tolist(), limit=k, query_filter=query_filter)

    def close(self) -> None:
        self.client.close()


_index: VectorIndex | None = None
_index_lock = threading.Lock()


def get_index(settings: Settings, dimension: int, model: str | None = None) -> VectorIndex:
    """The process's index (one client per process; local mode allows no more); ``model``:
    see :mod:`workers.embedding.collection_model`."""
    global _index
    with _index_lock:
        if _index is None:
            _index = VectorIndex(settings, dimension, model)
        return _index
