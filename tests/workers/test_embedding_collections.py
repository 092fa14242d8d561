"""Re-embedding into a new collection and switching the alias, against a real worker.

One worker for the module (the model loads once), local Qdrant: the alias switch runs in
that worker, the only process that may open Qdrant. The batch runner drives the run from
the test process, as ``sluice batch run re-embed`` would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import delete_document
from producers.batch.progress import run_query
from producers.batch.runner import BatchRunner
from producers.batch.runs import BatchRun, RunStatus
from producers.state_store import open_state_store
from schemas.job import Job
from sluice.enqueue import send
from tests.support.rag_env import RagEnv, corpus_queries, rag_env
from workers.embedding.vectors import INITIAL_SUFFIX

pytestmark = pytest.mark.slow

SOURCE = "handbook"


@pytest.fixture(scope="module")
def rag(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagEnv]:
    with rag_env(tmp_path_factory.mktemp("collections"), redis_server.url) as env:
        env.ingest_corpus(SOURCE)
        yield env


def runner_for(rag: RagEnv) -> BatchRunner:
    env = rag.sluice
    return BatchRunner(store=env.store, celery=env.celery, settings=env.settings,
                       state=open_state_store(env.settings))


def re_embed(rag: RagEnv, **options: Any) -> BatchRun:
    runner = runner_for(rag)
    run = runner.start("re-embed", options=options)
    finished = runner.run_until_done(run.id, interval=0.2, timeout=120)
    assert finished.status is RunStatus.FINISHED, (finished, rag.worker_log())
    return finished


def top_documents(rag: RagEnv) -> list[str]:
    tops = []
    for query in corpus_queries():
        job = rag.finished(rag.submit("search", {"q": query["query"], "k": 1, "source": SOURCE}).id)
        tops.append(job.result["hits"][0]["doc_id"])
    return tops


def switch(rag: RagEnv, collection: str) -> Job:
    """A ``vectors.switch_alias`` job queued by hand (it is not a kind clients submit)."""
    env = rag.sluice
    job, _ = env.store.create(Job(
        kind="vectors.switch_alias", input={"collection": collection},
        max_deliveries=env.settings.max_deliveries, task_id=uuid.uuid4().hex,
    ))
    send(job, store=env.store, celery=env.celery, settings=env.settings)
    return rag.finished(job.id)


def vectors_switch(rag: RagEnv, collection: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "vectors", "switch", collection, "--timeout", "60"],
        env=rag.sluice.env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_re_embed_fills_a_new_collection_then_the_alias_points_at_it(rag: RagEnv) -> None:
    alias = rag.sluice.settings.qdrant_collection
    before = top_documents(rag)
    points_before = rag.points(SOURCE)

    first = re_embed(rag)
    target = f"{alias}_{first.id}"
    assert first.summary is not None
    assert first.summary["collection"] == target and first.summary["alias_switched"] is True
    # The live name was an alias from the start: the first switch moves it in one call.
    assert first.summary["previous"] == f"{alias}{INITIAL_SUFFIX}"
    assert first.summary["dropped"] is None
    items = list(rag.sluice.store.iter_jobs(run_query(first.id)))
    assert items and all(job.result["collection"] == target for job in items)
    # Forced: every chunk upserted again; cached: not one embedded again.
    assert sum(job.result["embedded"] for job in items) == 0
    assert sum(job.result["upserted"] for job in items) == len(points_before)
    # Searches read the alias, which now resolves to the new collection.
    assert [(p["id"], p["text"]) for p in rag.points(SOURCE)] == [
        (p["id"], p["text"]) for p in points_before]
    assert top_documents(rag) == before

    # A second run moves the alias in one call and drops the collection it leaves.
    second = re_embed(rag, drop_old=True)
    assert second.summary is not None
    assert second.summary["previous"] == target and second.summary["dropped"] == target
    assert second.summary["collection"] == f"{alias}_{second.id}"
    assert top_documents(rag) == before


def test_switching_to_where_the_alias_points_already_changes_nothing(rag: RagEnv) -> None:
    run = re_embed(rag)
    assert run.summary is not None
    target = run.summary["collection"]

    again = switch(rag, target)
    assert again.result == {"alias": rag.sluice.settings.qdrant_collection,
                            "collection": target, "previous": target, "switched": False,
                            "dropped": None}
    # A resumed driver of the finished run queues nothing and leaves the summary as it was.
    runner = runner_for(rag)
    assert runner.advance(run.id).status == RunStatus.FINISHED.value
    assert runner.runs.get(run.id).summary == run.summary
    assert rag.points(SOURCE)


def test_deletes_and_edits_made_while_a_collection_is_staged_are_in_it_after_the_switch(
    rag: RagEnv,
) -> None:
    alias = rag.sluice.settings.qdrant_collection
    staged = f"{alias}_staged{uuid.uuid4().hex[:6]}"
    posted = [rag.put("staged", name, f"{name}: the {name} policy. " * 40)[0]
              for name in ("gone", "kept")]
    for document in posted:
        assert document.embed_job_id is not None
        rag.finished(document.embed_job_id)
        indexed_at = rag.documents.get(document.id).indexed_at
        staging = rag.finished(rag.submit("embed", {
            "document_id": document.id, "source": document.source, "doc_id": document.doc_id,
            "content_hash": document.content_hash, "collection": staged, "force": True,
        }).id)
        assert staging.result["collection"] == staged and staging.result["embedded"] == 0
        # Staging leaves the live collection's bookkeeping alone.
        assert rag.documents.get(document.id).indexed_at == indexed_at is not None

    _, job = delete_document(rag.documents, store=rag.sluice.store, celery=rag.sluice.celery,
                             settings=rag.sluice.settings, document_id=posted[0].id)
    assert job is not None
    deleted = rag.finished(job.id).result["deleted"]
    # From the live collection, the staged one and any kept by an earlier switch.
    assert deleted >= 2 * staging.result["chunks"]

    # An edit meanwhile reaches the staged collection too (embedded once, upserted to each).
    edited, changed = rag.put("staged", "kept", "kept: the policy was rewritten. " * 40)
    assert changed and edited.embed_job_id is not None
    edit = rag.finished(edited.embed_job_id).result
    assert edit["upserted"] >= 2 * edit["chunks"] and edit["embedded"] <= edit["chunks"]

    moved = switch(rag, staged)
    assert moved.result["switched"] is True
    points = rag.points("staged")
    assert {p["doc_id"] for p in points} == {"kept"}
    assert all("rewritten" in p["text"] for p in points)
    # Back to where it was (kept, not dropped): how an operator undoes a switch.
    back = vectors_switch(rag, moved.result["previous"])
    assert back.returncode == 0, back.stderr
    result = json.loads(back.stdout)["result"]
    assert result["switched"] is True and result["previous"] == staged
    assert result["collection"] == moved.result["previous"]
    assert {p["doc_id"] for p in rag.points("staged")} == {"kept"}

    missing = vectors_switch(rag, f"{alias}_never_filled")
    assert missing.returncode == 1
    assert "does not exist" in json.loads(missing.stdout)["error"]
    assert vectors_switch(rag, staged).returncode == 0
