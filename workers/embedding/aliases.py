"""The ``vectors.switch_alias`` task (``cpu`` queue): point the live alias at a collection.

It runs in the worker because that is where Qdrant is open (local mode allows one process:
nothing else may touch it). Not a kind clients submit: a re-embed batch run queues it once
every item of the run is done, under an idempotency key, and a repeated switch (a resumed
run, a redelivered message) finds the alias already there and changes nothing.
"""

from __future__ import annotations

from typing import Any

from schemas.inputs.documents import SwitchAliasInput
from schemas.job import DeadReason
from sluice.job_task import DeadLetter, JobContext, Queue, job_task
from workers.embedding.tasks import load_resources

SWITCH_KIND = "vectors.switch_alias"


@job_task(SWITCH_KIND, queue=Queue.CPU, input_model=SwitchAliasInput, internal=True)
def switch_alias(context: JobContext) -> dict[str, Any]:
    """Input: ``collection`` (the new target), ``drop_old`` (drop the collection the alias
    pointed at before); optionally ``alias``, which must be ``SLUICE_QDRANT_COLLECTION``."""
    job_input = context.job.input
    alias = context.settings.qdrant_collection
    if job_input.get("alias", alias) != alias:
        raise DeadLetter(DeadReason.INVALID_INPUT,
                         f"alias {job_input['alias']!r} is not SLUICE_QDRANT_COLLECTION {alias!r}")
    target = str(job_input.get("collection") or "")
    _, index = load_resources(context)
    from workers.embedding.vectors import AliasTargetMissing  # see load_resources

    with context.step("alias_switch", alias=alias, collection=target) as attrs:
        try:
            outcome = index.switch_alias(target, drop_old=bool(job_input.get("drop_old")))
        except AliasTargetMissing as exc:
            raise DeadLetter(DeadReason.INVALID_INPUT, str(exc)) from exc
        attrs.update(switched=outcome.switched, previous=outcome.previous,
                     dropped=outcome.dropped)
    return outcome.as_dict()
