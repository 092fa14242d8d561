"""Retrieval: the ``search`` job (``cpu`` queue) and the top-k lookup generation builds on.

The query is embedded by the same model as the chunks, in the worker process that holds
Qdrant (local mode allows one); the API submits a ``search`` job and waits for its result.
A search (and an ``ask``) sees only the chunks of its job's tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.inputs.retrieval import SearchInput
from schemas.job import DeadReason
from sluice.job_task import DeadLetter, JobContext, Queue, job_task
from workers.embedding.tasks import load_resources

if TYPE_CHECKING:
    from workers.embedding.vectors import Hit


def retrieve(context: JobContext, query: str, k: int, source: str | None) -> list[Hit]:
    """Top ``k`` chunks for ``query``, as one ``retrieval`` step of the job's trace."""
    if not query.strip():
        raise DeadLetter(DeadReason.INVALID_INPUT, "the query is empty")
    model, index = load_resources(context)
    with context.step("retrieval", k=k, source=source, model=model.name) as attrs:
        vector = model.encode([query], batch_size=1)[0]
        hits = index.search(vector, k, source, tenant=context.job.tenant)
        attrs["hits"] = len(hits)
        attrs["top_score"] = round(hits[0].score, 4) if hits else None
    return hits


@job_task("search", queue=Queue.CPU, input_model=SearchInput)
def search(context: JobContext) -> dict[str, Any]:
    job_input = context.job.input
    k = int(job_input.get("k") or context.settings.retrieval_k)
    hits = retrieve(context, str(job_input.get("q", "")), k, job_input.get("source"))
    return {"hits": [hit.as_dict() for hit in hits]}
