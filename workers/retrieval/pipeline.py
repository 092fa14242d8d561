"""One retrieval as ``search`` and ``ask`` run it: optional query expansion and self-query,
dense and BM25 candidates fused in Qdrant, an optional cross-encoder over the top N.

Every run records the steps ``retrieval_semantic``, ``retrieval_bm25``, ``fusion_rrf`` and
``reranking`` (a step that does not apply is recorded with ``skipped`` and the reason), so
every trace has the same shape and ``/v1/stats`` can sum each step. The evaluation
(``sluice eval-retrieval``) runs :func:`ranked` with its own step log, so it measures
exactly this code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from qdrant_client.http import models as qm

from schemas.job import DeadReason
from sluice.job_task import DeadLetter, JobContext
from sluice.settings import Settings
from workers.embedding.tasks import load_resources
from workers.retrieval.hybrid import Steps, retrieve_fused
from workers.retrieval.rerank import RerankerUnavailable, get_reranker, unconfigured_reason

if TYPE_CHECKING:
    from workers.embedding.model import EmbeddingModel
    from workers.embedding.points import Hit
    from workers.embedding.vectors import VectorIndex

log = structlog.get_logger(__name__)
MODES = ("dense", "sparse", "hybrid")


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    mode: str  # asked for
    served: str  # what ran

    def summary(self) -> dict[str, Any]:
        return {"mode": self.mode, "served": self.served}


def rerank_step(
    steps: Steps, settings: Settings, query: str, hits: list[Hit], k: int,
    requested: bool | None,
) -> list[Hit]:
    """The ``reranking`` step: the top ``SLUICE_RERANKER_TOP_N`` re-scored, ``k`` kept."""
    with steps.step("reranking", candidates=len(hits)) as attrs:
        reason = ("not requested" if requested is False
                  else unconfigured_reason(settings))
        reranker = None
        if reason is None:
            try:
                reranker = get_reranker(settings)
            except RerankerUnavailable as exc:
                log.warning("reranker unavailable", error=str(exc))
                reason = f"reranker unavailable: {exc}"
        if reranker is None:
            attrs.update(skipped=reason, results=min(k, len(hits)))
            return hits[:k]
        top = hits[:settings.reranker_top_n]
        ordered = reranker.rerank(query, top)[:k]
        attrs.update(model=reranker.name, reranked=len(top), results=len(ordered),
                     top_score=round(ordered[0].score, 4) if ordered else None)
        return ordered


def ranked(
    steps: Steps, settings: Settings, index: VectorIndex, model: EmbeddingModel,
    queries: list[str], k: int, *, mode: str, rerank: bool | None,
    query_filter: qm.Filter | None,
) -> Retrieval:
    """The ``k`` best chunks for ``queries`` (the question first) under ``mode``."""
    wants_rerank = rerank is not False and unconfigured_reason(settings) is None
    limit = max(k, settings.reranker_top_n) if wants_rerank else k
    fused = retrieve_fused(steps, index, model, queries, mode=mode, limit=limit,
                           candidates=settings.retrieval_candidates, query_filter=query_filter)
    hits = rerank_step(steps, settings, queries[0], fused.hits, k, rerank)
    return Retrieval(hits, mode, fused.served)


def retrieve(context: JobContext, query: str, k: int, source: str | None) -> Retrieval:
    """Top ``k`` chunks for ``query`` as the job's input asks (``mode``, ``rerank``,
    ``expand``, ``self_query``); only the job's tenant's chunks."""
    from workers.embedding.vectors import tenant_condition  # see load_resources
    from workers.retrieval import query_llm

    if not query.strip():
        raise DeadLetter(DeadReason.INVALID_INPUT, "the query is empty")
    job_input = context.job.input
    settings = context.settings
    mode = str(job_input.get("mode") or settings.retrieval_mode)
    if mode not in MODES:
        raise DeadLetter(DeadReason.INVALID_INPUT, f"mode {mode!r} is not one of {MODES}")
    model, index = load_resources(context)
    conditions: list[Any] = [tenant_condition(context.job.tenant)]
    if source is not None:
        conditions.append(qm.FieldCondition(key="source", match=qm.MatchValue(value=source)))
    queries = [query]
    expansions = int(job_input.get("expand") or 0)
    if expansions:
        queries += query_llm.expand(context, query, expansions)
    if job_input.get("self_query"):
        filters = query_llm.self_query(context, query)
        if filters is not None:
            conditions += query_llm.filter_conditions(filters)
    return ranked(context, settings, index, model, queries, k, mode=mode,
                  rerank=job_input.get("rerank"), query_filter=qm.Filter(must=conditions))
