"""Dense, BM25 and their fusion, each a timed step: ``retrieval_semantic``,
``retrieval_bm25``, ``fusion_rrf``.

Fusion is Qdrant's: one Query API call whose prefetches are the dense and the sparse
queries (of the question and of every reformulation) and whose query is RRF, so a Qdrant
server and local mode rank alike. The two steps before it run the same prefetches on their
own (one batch call each), so the trace shows what each side found and how long it took;
the fusion call repeats them inside Qdrant, which costs a few milliseconds more than one
call would and keeps the fused ranking Qdrant's own.

A collection made before hybrid retrieval has no BM25 vector: every mode then runs dense
and the trace says why (``served`` is what ran, ``mode`` what was asked).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from qdrant_client.http import models as qm

from workers.embedding.points import SPARSE_VECTOR, Hit
from workers.embedding.sparse import query_vector

if TYPE_CHECKING:
    from workers.embedding.model import EmbeddingModel
    from workers.embedding.vectors import VectorIndex

DENSE, SPARSE, HYBRID = "dense", "sparse", "hybrid"


class Steps(Protocol):
    """What records timed steps: a job's context, or the evaluation's log."""

    def step(self, name: str, **attrs: Any) -> AbstractContextManager[dict[str, Any]]: ...


@dataclass(frozen=True)
class Fused:
    hits: list[Hit]
    served: str  # the mode that ran: the asked one, or dense on a dense-only collection


def _top(hits: list[Hit]) -> float | None:
    return round(hits[0].score, 4) if hits else None


def retrieve_fused(
    steps: Steps, index: VectorIndex, model: EmbeddingModel, queries: list[str], *,
    mode: str, limit: int, candidates: int, query_filter: qm.Filter | None,
) -> Fused:
    """The ``limit`` best chunks for ``queries`` (the question first), ranked by ``mode``."""
    collection = index.live()
    sparse_ready = index.has_sparse(collection)
    served = mode if sparse_ready else DENSE
    run_dense, run_sparse = served in (DENSE, HYBRID), served in (SPARSE, HYBRID)
    sparse_reason = (f"collection {collection} has no BM25 vector (made before hybrid "
                     "retrieval): re-embed it" if not sparse_ready else f"mode {served}")
    side_limit = max(candidates, limit)
    prefetch: list[qm.Prefetch] = []
    lists: list[list[Hit]] = []

    with steps.step("retrieval_semantic", model=model.name, queries=len(queries),
                    collection=collection) as attrs:
        if run_dense:
            dense = [vector.tolist()
                     for vector in model.encode(queries, batch_size=len(queries))]
            found = index.query_batch(collection, [
                qm.QueryRequest(query=vector, limit=side_limit, filter=query_filter,
                                with_payload=True) for vector in dense])
            attrs.update(results=[len(hits) for hits in found],
                         top_score=_top(found[0]) if found else None)
            lists += found
            prefetch += [qm.Prefetch(query=vector, limit=side_limit, filter=query_filter)
                         for vector in dense]
        else:
            attrs["skipped"] = f"mode {served}"
    with steps.step("retrieval_bm25", queries=len(queries), collection=collection) as attrs:
        if run_sparse:
            sparse_queries = [query_vector(text) for text in queries]
            # A query of punctuation alone has no terms: nothing for BM25 to look up.
            vectors = [qm.SparseVector(indices=vector.indices, values=vector.values)
                       for vector in sparse_queries if len(vector)]
            found = index.query_batch(collection, [
                qm.QueryRequest(query=vector, using=SPARSE_VECTOR, limit=side_limit,
                                filter=query_filter, with_payload=True) for vector in vectors])
            attrs.update(terms=[len(vector) for vector in sparse_queries],
                         results=[len(hits) for hits in found],
                         top_score=_top(found[0]) if found else None)
            lists += found
            prefetch += [qm.Prefetch(query=vector, using=SPARSE_VECTOR, limit=side_limit,
                                     filter=query_filter) for vector in vectors]
        else:
            attrs["skipped"] = sparse_reason
    with steps.step("fusion_rrf", mode=mode, served=served) as attrs:
        attrs["candidates"] = sum(len(hits) for hits in lists)
        attrs["distinct_candidates"] = len({hit.id for hits in lists for hit in hits})
        if len(prefetch) > 1:
            hits = index.query(collection, prefetch=prefetch,
                               query=qm.FusionQuery(fusion=qm.Fusion.RRF), limit=limit,
                               query_filter=query_filter)
            attrs["lists"] = len(prefetch)
        else:
            hits = lists[0][:limit] if lists else []
            attrs["skipped"] = "one ranked list: nothing to fuse"
        attrs.update(results=len(hits), top_score=_top(hits))
    return Fused(hits, served)

