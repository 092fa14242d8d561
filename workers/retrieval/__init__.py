"""Retrieval: the ``search`` job (``cpu`` queue) and the lookup generation builds on.

The query is embedded by the same model as the chunks, in the worker process that holds
Qdrant (local mode allows one); the API submits a ``search`` job and waits for its result.
A search (and an ``ask``) sees only the chunks of its job's tenant. How one retrieval runs
(modes, fusion, reranking, expansion, self-query) is :mod:`workers.retrieval.pipeline`.
"""

from __future__ import annotations

from typing import Any

from schemas.inputs.retrieval import SearchInput
from sluice.job_task import JobContext, Queue, job_task
from workers.retrieval.pipeline import Retrieval, retrieve

__all__ = ["Retrieval", "retrieve", "search"]


@job_task("search", queue=Queue.CPU, input_model=SearchInput)
def search(context: JobContext) -> dict[str, Any]:
    job_input = context.job.input
    k = int(job_input.get("k") or context.settings.retrieval_k)
    found = retrieve(context, str(job_input.get("q", "")), k, job_input.get("source"))
    return {"hits": [hit.as_dict() for hit in found.hits], **found.summary()}
