"""A test-only job kind that reports what Qdrant holds, run inside the worker that opened it.

Local Qdrant allows one process per folder, so tests cannot look at it themselves while
the worker runs; this kind (loaded as a plugin) looks for them.
"""

from __future__ import annotations

from typing import Any

from qdrant_client.http import models as qm

from sluice.job_task import JobContext, job_task
from workers.embedding.tasks import load_resources

KINDS = {"test.vectors": "cpu"}


@job_task("test.vectors")
def vectors(context: JobContext) -> dict[str, Any]:
    """Every point of ``source`` (and ``doc_id`` when given): chunk index, doc_id, text."""
    _, index = load_resources(context)
    conditions: list[qm.Condition] = [
        qm.FieldCondition(key="source", match=qm.MatchValue(value=context.job.input["source"]))
    ]
    if context.job.input.get("doc_id") is not None:
        conditions.append(qm.FieldCondition(
            key="doc_id", match=qm.MatchValue(value=context.job.input["doc_id"])
        ))
    points, _ = index.client.scroll(
        index.collection, scroll_filter=qm.Filter(must=conditions), limit=10_000,
        with_payload=True, with_vectors=False,
    )
    return {
        "points": sorted(
            ({"id": str(point.id), **(point.payload or {})} for point in points),
            key=lambda point: (point["doc_id"], point["chunk_index"]),
        )
    }
