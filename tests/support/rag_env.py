"""A module-wide Sluice for embedding and answer tests: one worker that loads the embedding
model once for the whole test module, a warehouse, and the fixture corpus.

Loading the model takes seconds on two cores, so tests in a module share one worker and keep
apart by ``source``. Nothing is mocked: the worker is a real ``sluice worker`` subprocess with
local Qdrant under the module's data dir.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libs.documents.warehouse import (
    ContentType,
    Document,
    DocumentStore,
    open_documents,
    put_document,
)
from schemas.job import Job, JobStatus
from sluice.enqueue import submit
from tests.conftest import SluiceEnv, make_env
from tests.support.polling import wait_for

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"
CONTENT_TYPES = {".txt": ContentType.TEXT, ".html": ContentType.HTML, ".eml": ContentType.EMAIL}
# The first job of a worker loads the model: generous, yet bounded.
FIRST_JOB_TIMEOUT = 180.0
JOB_TIMEOUT = 60.0


@dataclass
class RagEnv:
    sluice: SluiceEnv
    documents: DocumentStore

    def put(self, source: str, doc_id: str, content: str,
            content_type: ContentType = ContentType.TEXT) -> tuple[Document, bool]:
        return put_document(
            self.documents, store=self.sluice.store, celery=self.sluice.celery,
            settings=self.sluice.settings, source=source, doc_id=doc_id, content=content,
            content_type=content_type,
        )

    def submit(self, kind: str, job_input: dict[str, Any]) -> Job:
        job, _ = submit(kind, job_input, store=self.sluice.store, celery=self.sluice.celery,
                        settings=self.sluice.settings)
        return job

    def finished(self, job_id: str, timeout: float = FIRST_JOB_TIMEOUT) -> Job:
        def done() -> Job | None:
            job = self.sluice.store.get(job_id)
            return job if job.settled else None

        job = wait_for(done, timeout=timeout, what=f"job {job_id} to finish")
        assert job.status is JobStatus.SUCCEEDED, (job.status, job.error, self.worker_log())
        return job

    def points(self, source: str, doc_id: str | None = None) -> list[dict[str, Any]]:
        """What Qdrant holds, as the worker that opened it sees it."""
        job = self.finished(self.submit("test.vectors", {"source": source, "doc_id": doc_id}).id)
        points: list[dict[str, Any]] = job.result["points"]
        return points

    def worker_log(self) -> str:
        return "\n".join(worker.log()[-4000:] for worker in self.sluice.workers)

    def ingest_corpus(self, source: str) -> list[Job]:
        jobs = []
        for path in sorted(CORPUS.iterdir()):
            if path.suffix in CONTENT_TYPES:
                kind = CONTENT_TYPES[path.suffix]
                document, _ = self.put(source, path.name, path.read_text(), kind)
                assert document.embed_job_id is not None
                jobs.append(self.finished(document.embed_job_id))
        return jobs


def corpus_queries() -> list[dict[str, str]]:
    queries: list[dict[str, str]] = json.loads((CORPUS / "queries.json").read_text())
    return queries


@contextmanager
def rag_env(tmp: Path, broker_url: str, **overrides: Any) -> Iterator[RagEnv]:
    """A Sluice with one worker on the cpu and gpu queues; torch loads in the worker only."""
    values = {
        "plugins": "tests.support.kernel_tasks,tests.support.vector_probe",
        # Model loading takes seconds: no redelivery while a job is legitimately running.
        "visibility_timeout": 600, "task_time_limit": 300, "task_soft_time_limit": 290,
        **overrides,
    }
    env = make_env(tmp, broker_url, **values)
    documents = open_documents(env.settings)
    try:
        env.worker(queues="cpu,gpu", pool="threads", concurrency=3)
        yield RagEnv(sluice=env, documents=documents)
    finally:
        for worker in env.workers:
            worker.stop()
        documents.close()
        env.store.close()
