"""``GET /v1/search``: the chunks nearest a query, through a ``search`` job on a worker.

The API process never loads the embedding model nor opens Qdrant (local mode allows only
the worker), so it submits the job and waits for its result.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from producers.api.auth import Submitter
from producers.api.dependencies import CeleryDep, SettingsDep, StoreDep
from producers.api.job_events import wait_until_terminal
from producers.api.rate_limit import SubmissionAllowed
from schemas.inputs.retrieval import MAX_EXPANSIONS, RetrievalMode
from schemas.job import JobStatus
from sluice.enqueue import submit

router = APIRouter(prefix="/v1/search", tags=["search"])


@router.get("")
async def search(
    caller: Submitter,
    _rate: SubmissionAllowed,
    store: StoreDep,
    celery: CeleryDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=4000)],
    k: Annotated[int | None, Query(ge=1, le=100)] = None,
    source: str | None = None,
    mode: Annotated[RetrievalMode | None, Query(
        description="dense, sparse (BM25) or hybrid (both, RRF-fused in Qdrant); default "
        "SLUICE_RETRIEVAL_MODE")] = None,
    rerank: Annotated[bool | None, Query(
        description="Rerank with the cross-encoder; default: when one is configured")] = None,
    expand: Annotated[int, Query(ge=0, le=MAX_EXPANSIONS, description=(
        "LLM reformulations searched beside the query, results fused"))] = 0,
    self_query: Annotated[bool, Query(description=(
        "Filter by the source, document type and dates the query names (one LLM call)"))
    ] = False,
) -> dict[str, Any]:
    """Chunks with score, doc_id, source, chunk_index and text, best first; ``mode`` as
    asked and ``served`` as run (dense on a collection not yet re-embedded for hybrid)."""
    if not q.strip():
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["query", "q"], "msg": "the query is blank", "type": "value_error",
                     "input": q}],
        )
    job_input: dict[str, Any] = {"q": q, "k": k or settings.retrieval_k}
    if source is not None:
        job_input["source"] = source
    options = {"mode": mode, "rerank": rerank, "expand": expand or None,
               "self_query": self_query or None}
    job_input.update({name: value for name, value in options.items() if value is not None})

    def _submit() -> str:
        job, _ = submit("search", job_input, store=store, celery=celery, settings=settings,
                        api_key_id=caller.key_id, tenant=caller.tenant)
        return job.id

    job_id = await run_in_threadpool(_submit)
    job = await wait_until_terminal(store, job_id, settings.ask_wait_seconds)
    if job.status is JobStatus.SUCCEEDED:
        return {"job_id": job.id, "query": q, "hits": job.result["hits"],
                "mode": job.result.get("mode"), "served": job.result.get("served")}
    code = (status.HTTP_502_BAD_GATEWAY if job.settled
            else status.HTTP_504_GATEWAY_TIMEOUT)
    raise HTTPException(
        code, detail={"job_id": job.id, "status": job.status.value, "error": job.error}
    )
