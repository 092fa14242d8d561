"""Retrieval: the ``search`` job (``cpu`` queue) and the lookup generation builds on.

The query is embedded by the same model as the chunks, in the worker process that holds
Qdrant (local mode allows one); the API submits a ``search`` job and waits for its result.
A search (and an ``ask``) sees only the chunks of its job's tenant. How one retrieval runs
(modes, fusion, reranking, expansion, self-query) is :mod:`workers.retrieval.pipeline`.
"""

from __future__ import annotations

from typing import Any

import workers.embedding  # noqa: F401  needs the embedding extra: without it, no search kind
from schemas.inputs.retrieval import SearchInput
from sluice.job_task import JobContext, Queue, job_task

__all__ = ["search"]


@job_task("search", queue=Queue.CPU, input_model=SearchInput)
def search(context: JobContext) -> dict[str, Any]:
    # Qdrant's client loads with the pipeline, in the worker only: the API process imports
    # this module for the kind's declaration and must stay light.
    from workers.retrieval.pipeline import retrieve

    job_input = context.job.input
    k = int(job_input.get("k") or context.settings.retrieval_k)
    found = retrieve(context, str(job_input.get("q", "")), k, job_input.get("source"))
    return {"hits": [hit.as_dict() for hit in found.hits], **found.summary()}
