"""The transforms a batch run can apply, by name.

A transform selects items in a stable order and says, for each, which job to submit.
Built in: ``re-extract`` (stored emails through a new schema version, prompt or model) and
``re-embed`` (every warehouse document into a new Qdrant collection, then the alias
switched to it). Plugin modules (``SLUICE_PLUGINS``) add their own in a
``BATCH_TRANSFORMS`` dict of name -> transform.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from celery import Celery

from producers.batch.documents import count_documents, iter_documents
from producers.batch.progress import batch_progress
from producers.batch.runs import BatchRun
from schemas.job import Job, JobStatus
from sluice.enqueue import send
from sluice.settings import Settings
from sluice.stores import JobQuery, JobStore
from sluice.stores.job_query import encode_cursor

log = structlog.get_logger(__name__)

# Job input fields a batch sets on its items; never copied from a source job.
BATCH_FIELDS = ("batch_run", "reextract_of")
# The worker task (workers.embedding.aliases) that switches the Qdrant alias; by name only:
# producers never import worker code.
SWITCH_ALIAS_KIND = "vectors.switch_alias"


def option_flag(value: Any) -> bool:
    """A yes/no transform option: JSON ``true`` from the CLI, or a string from a schedule."""
    return value is True or str(value).strip().lower() in {"true", "1", "yes"}


class NotFinished(Exception):
    """Raised by a transform's ``finish`` while its closing work (a job it queued) still
    runs; the runner leaves the run running and asks again on its next step."""


@dataclass(frozen=True)
class Item:
    key: str  # unique within the run: the item's idempotency key
    position: str  # where the selection resumes after this item
    kind: str | None = None  # None: selected but not processable (counted as skipped)
    input: dict[str, Any] | None = None


@dataclass(frozen=True)
class BatchContext:
    store: JobStore
    settings: Settings
    celery: Celery | None = None  # for transforms that queue closing work in finish


class Transform(Protocol):
    name: str
    description: str

    def count(self, run: BatchRun, context: BatchContext) -> int: ...

    def items(
        self, run: BatchRun, context: BatchContext, after: str | None
    ) -> Iterator[Item]: ...

    def finish(self, run: BatchRun, context: BatchContext) -> dict[str, Any]: ...


class UnknownTransform(KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return f"unknown transform {self.name!r}; known: {', '.join(self.known)}"


class ReExtract:
    """Stored emails (their original extract jobs) through extraction again.

    Options: ``schema``, ``schema_version``, ``model`` (any other option is copied into the
    job input as well, e.g. a ``reviewer_hint``). Filters match the source jobs' fields
    (``input.schema=support_ticket``). Emails that were never parsed (dead, raw only) are
    skipped: there is no text to extract from.
    """

    name = "re-extract"
    description = "Stored emails through a new schema version, prompt or model."

    def _query(self, run: BatchRun) -> JobQuery:
        fields: list[tuple[str, Any]] = [("input.source", "email"), ("input.batch_run", None)]
        fields += [(path if path.startswith("input.") else f"input.{path}", value)
                   for path, value in run.filters]
        return JobQuery(kind="extract", fields=tuple(fields), created_after=run.since,
                        created_before=run.until)

    def count(self, run: BatchRun, context: BatchContext) -> int:
        return context.store.count(self._query(run))

    def items(self, run: BatchRun, context: BatchContext, after: str | None) -> Iterator[Item]:
        cursor = after
        while True:
            page = context.store.list_jobs(self._query(run), limit=200, cursor=cursor,
                                           oldest_first=True)
            for job in page.items:
                position = encode_cursor(job)
                if not job.input.get("text"):
                    yield Item(job.id, position)
                    continue
                job_input = {k: v for k, v in job.input.items() if k not in BATCH_FIELDS}
                job_input.update(run.options)
                job_input.update(batch_run=run.id, reextract_of=job.id)
                yield Item(job.id, position, "extract", job_input)
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def finish(self, run: BatchRun, context: BatchContext) -> dict[str, Any]:
        return {}


class ReEmbed:
    """Every warehouse document embedded into a new Qdrant collection, then the alias
    (``SLUICE_QDRANT_COLLECTION``) switched to it in one atomic operation.

    Options: ``collection`` (default ``<alias>_<run id>``), ``drop_old`` (drop the collection
    the alias pointed at before). Filter: ``source=email``; the new collection then holds
    only those documents, so the alias is switched to it only with the option ``switch``
    (searches would find nothing else).
    The embed jobs carry ``collection`` and ``force``. The switch is a
    ``vectors.switch_alias`` job on the cpu queue (the worker holds Qdrant), queued once
    every item is done and none is dead, under the key ``batch:<run id>:switch-alias``, so a
    resumed run finds the same job; the run finishes when it has.
    """

    name = "re-embed"
    description = "Every document into a new Qdrant collection, then switch the alias."

    def target(self, run: BatchRun, settings: Settings) -> str:
        return str(run.options.get("collection") or f"{settings.qdrant_collection}_{run.id}")

    def _source(self, run: BatchRun) -> str | None:
        return dict(run.filters).get("source")

    def count(self, run: BatchRun, context: BatchContext) -> int:
        return count_documents(context.settings, source=self._source(run))

    def items(self, run: BatchRun, context: BatchContext, after: str | None) -> Iterator[Item]:
        target = self.target(run, context.settings)
        for ref in iter_documents(context.settings, source=self._source(run), after=after):
            yield Item(ref.id, ref.id, "embed", {
                "document_id": ref.id, "source": ref.source, "doc_id": ref.doc_id,
                "content_hash": ref.content_hash, "collection": target, "force": True,
                "batch_run": run.id,
            })

    def finish(self, run: BatchRun, context: BatchContext) -> dict[str, Any]:
        settings = context.settings
        target = self.target(run, settings)
        alias = settings.qdrant_collection
        summary: dict[str, Any] = {"collection": target, "alias": alias}
        source = self._source(run)
        if source is not None and not option_flag(run.options.get("switch")):
            return {**summary, "alias_switched": False,
                    "why": f"only source={source} was embedded: switch with -o switch=true"}
        dead = batch_progress(context.store, run, run.skipped).dead
        if dead:
            # An incomplete collection must not go live: redrive the items, then switch
            # with a new run (its embeds find every unchanged chunk in the cache).
            return {**summary, "alias_switched": False,
                    "why": f"{dead} item(s) dead: the alias still points where it did"}
        job = self._switch_job(run, context, target)
        if job.status is JobStatus.SUCCEEDED:
            result = job.result or {}
            return {**summary, "alias_switched": bool(result.get("switched")),
                    "previous": result.get("previous"), "dropped": result.get("dropped"),
                    "switch_job": job.id}
        if job.settled:
            return {**summary, "alias_switched": False, "switch_job": job.id,
                    "why": f"the switch job ended {job.status.value}: {job.error}"}
        raise NotFinished(f"alias switch job {job.id} is {job.status.value}")

    def _switch_job(self, run: BatchRun, context: BatchContext, target: str) -> Job:
        """The run's one switch job: created on the first call, found on every later one."""
        settings = context.settings
        job, created = context.store.create(Job(
            kind=SWITCH_ALIAS_KIND,
            input={"alias": settings.qdrant_collection, "collection": target,
                   "drop_old": option_flag(run.options.get("drop_old")), "switch_for": run.id},
            idempotency_key=run.idempotency_key("switch-alias"),
            max_deliveries=settings.max_deliveries,
            task_id=uuid.uuid4().hex,
        ))
        if (created or job.sent_at is None) and job.status is JobStatus.QUEUED:
            if context.celery is None:
                raise NotFinished("no Celery app to queue the alias switch with")
            job = send(job, store=context.store, celery=context.celery, settings=settings)
            log.info("alias switch queued", run_id=run.id, job_id=job.id, collection=target)
        return job


BUILT_IN: dict[str, Transform] = {t.name: t for t in (ReExtract(), ReEmbed())}


def transforms(settings: Settings) -> dict[str, Transform]:
    found = dict(BUILT_IN)
    for module_name in settings.plugins:
        found.update(getattr(importlib.import_module(module_name), "BATCH_TRANSFORMS", {}))
    return found


def transform_named(name: str, settings: Settings) -> Transform:
    known = transforms(settings)
    if name not in known:
        raise UnknownTransform(name, sorted(known))
    return known[name]
