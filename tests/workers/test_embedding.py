"""The embed and delete jobs against a real worker, real model and local Qdrant.

One worker for the module (the model loads once); tests keep apart by ``source``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import ContentType, delete_document
from tests.support.rag_env import RagEnv, rag_env

pytestmark = pytest.mark.slow

SENTENCES = [
    f"Paragraph {n} explains how the warehouse keeps document number {n} in order, "
    f"with shelf {n * 7} holding the spare parts and crate {n * 13} the manuals."
    for n in range(1, 61)
]
LONG_TEXT = "\n\n".join(SENTENCES)


@pytest.fixture(scope="module")
def rag(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RagEnv]:
    with rag_env(tmp_path_factory.mktemp("embedding"), redis_server.url) as env:
        yield env


def test_a_document_becomes_one_point_per_chunk_with_its_payload(rag: RagEnv) -> None:
    document, changed = rag.put("manual", "warehouse", LONG_TEXT)
    assert changed and document.embed_job_id
    job = rag.finished(document.embed_job_id)

    points = rag.points("manual", "warehouse")
    assert job.result["chunks"] > 2
    assert [p["chunk_index"] for p in points] == list(range(job.result["chunks"]))
    assert {p["model"] for p in points} == {"all-MiniLM-L6-v2"}
    assert all(p["text"] and p["text"] in LONG_TEXT for p in points)
    assert rag.documents.get(document.id).chunk_count == job.result["chunks"]


def test_reingesting_the_same_document_adds_no_points_and_embeds_nothing(rag: RagEnv) -> None:
    document, _ = rag.put("reingest", "doc", LONG_TEXT)
    assert document.embed_job_id
    first = rag.finished(document.embed_job_id)
    before = rag.points("reingest")

    again, changed = rag.put("reingest", "doc", LONG_TEXT)
    assert not changed and again.embed_job_id == document.embed_job_id  # nothing queued
    # Even an embed job forced through (a replayed message, a manual re-index) does nothing.
    forced = rag.finished(rag.submit("embed", {
        "document_id": document.id, "source": "reingest", "doc_id": "doc",
        "content_hash": document.content_hash,
    }).id)

    assert forced.result == {**first.result, "embedded": 0, "upserted": 0, "deleted": 0}
    assert rag.points("reingest") == before
    embedding = next(step for step in forced.trace if step.name == "embedding")
    assert embedding.attrs["chunks"] == 0 and embedding.attrs["computed"] == 0


def test_a_shrinking_edit_leaves_no_stale_chunk(rag: RagEnv) -> None:
    document, _ = rag.put("shrink", "doc", LONG_TEXT)
    assert document.embed_job_id
    long_chunks = rag.finished(document.embed_job_id).result["chunks"]
    short_text = "\n\n".join(SENTENCES[:3])

    edited, changed = rag.put("shrink", "doc", short_text)
    assert changed and edited.embed_job_id
    job = rag.finished(edited.embed_job_id)

    points = rag.points("shrink")
    assert job.result["chunks"] == 1 < long_chunks
    assert job.result["deleted"] == long_chunks - 1
    assert [(p["chunk_index"], p["text"]) for p in points] == [(0, short_text)]
    assert rag.documents.get(document.id).chunk_count == 1


def test_an_edit_embeds_only_the_chunks_whose_text_changed(rag: RagEnv) -> None:
    document, _ = rag.put("append", "doc", LONG_TEXT)
    assert document.embed_job_id
    before = rag.finished(document.embed_job_id).result
    edited, _ = rag.put("append", "doc", LONG_TEXT + "\n\nOne more closing sentence.")
    assert edited.embed_job_id

    after = rag.finished(edited.embed_job_id).result

    assert after["chunks"] == before["chunks"]
    assert after["embedded"] == after["upserted"] == 1  # the last chunk, nothing else


def test_a_delete_leaves_no_point(rag: RagEnv) -> None:
    document, _ = rag.put("delete", "doc", LONG_TEXT)
    keep, _ = rag.put("delete", "other", "A document that stays where it is.")
    assert document.embed_job_id and keep.embed_job_id
    rag.finished(document.embed_job_id)
    rag.finished(keep.embed_job_id)

    removed, job = delete_document(
        rag.documents, store=rag.sluice.store, celery=rag.sluice.celery,
        settings=rag.sluice.settings, document_id=document.id,
    )
    assert removed is not None and job is not None
    result = rag.finished(job.id).result

    assert result["deleted"] > 2
    assert [p["doc_id"] for p in rag.points("delete")] == ["other"]


def test_a_delete_that_knows_only_the_document_id_leaves_no_point(rag: RagEnv) -> None:
    """A change-stream delete event without a pre-image names only the warehouse id."""
    document, _ = rag.put("by-id", "doc", LONG_TEXT)
    assert document.embed_job_id
    rag.finished(document.embed_job_id)
    rag.documents.remove(document.id)

    result = rag.finished(rag.submit("delete", {"document_id": document.id}).id).result

    assert result["deleted"] > 2
    assert rag.points("by-id") == []


def test_an_embed_job_for_a_deleted_document_removes_its_points(rag: RagEnv) -> None:
    document, _ = rag.put("late", "doc", "Text embedded, then deleted before a late re-index.")
    assert document.embed_job_id
    rag.finished(document.embed_job_id)
    rag.documents.remove(document.id)  # gone from the warehouse, its delete job never sent

    late = rag.finished(rag.submit("embed", {
        "document_id": document.id, "source": "late", "doc_id": "doc",
        "content_hash": document.content_hash,
    }).id)

    assert late.result["skipped"] == "document deleted"
    assert rag.points("late") == []


def test_racing_embed_and_delete_of_one_document_leave_no_point(rag: RagEnv) -> None:
    document, _ = rag.put("race", "doc", LONG_TEXT)
    removed, delete_job = delete_document(  # queued right behind the embed job
        rag.documents, store=rag.sluice.store, celery=rag.sluice.celery,
        settings=rag.sluice.settings, document_id=document.id,
    )
    assert document.embed_job_id and removed and delete_job

    rag.finished(document.embed_job_id)
    rag.finished(delete_job.id)

    assert rag.points("race") == []


def test_a_document_posted_again_after_its_delete_keeps_its_new_points(rag: RagEnv) -> None:
    document, _ = rag.put("again", "doc", LONG_TEXT)
    assert document.embed_job_id
    rag.finished(document.embed_job_id)
    _, delete_job = delete_document(
        rag.documents, store=rag.sluice.store, celery=rag.sluice.celery,
        settings=rag.sluice.settings, document_id=document.id,
    )
    again, changed = rag.put("again", "doc", "Back again, and much shorter.")
    assert delete_job and changed and again.embed_job_id

    rag.finished(delete_job.id)
    rag.finished(again.embed_job_id)

    assert [(p["chunk_index"], p["text"]) for p in rag.points("again")] == [
        (0, "Back again, and much shorter.")
    ]


def test_html_and_email_are_cleaned_before_chunking(rag: RagEnv) -> None:
    html = ("<html><head><script>var x = 1;</script></head><body><nav>Home | Shop</nav>"
            "<article><h1>Opening hours</h1><p>The shop opens at nine in the morning and "
            "closes at six in the evening, every day except Sunday.</p></article></body></html>")
    email = ("From: a@example.com\nTo: b@example.com\nSubject: Opening hours\n"
             "Message-ID: <hours@example.com>\n\nWe open at nine and close at six.\n")
    page, _ = rag.put("clean", "page", html, ContentType.HTML)
    mail, _ = rag.put("clean", "mail", email, ContentType.EMAIL)
    assert page.embed_job_id and mail.embed_job_id
    rag.finished(page.embed_job_id)
    rag.finished(mail.embed_job_id)

    texts = {p["doc_id"]: p["text"] for p in rag.points("clean")}

    assert "closes at six in the evening" in texts["page"]
    assert "<" not in texts["page"] and "var x" not in texts["page"]
    assert texts["mail"].startswith("Opening hours") and "a@example.com" not in texts["mail"]


def test_the_embed_trace_has_every_step_and_durations_add_up(rag: RagEnv) -> None:
    document, _ = rag.put("trace", "doc", LONG_TEXT)
    assert document.embed_job_id
    job = rag.finished(document.embed_job_id)

    names = [step.name for step in job.trace]
    for step in ("document_lock", "load_document", "cleaning", "chunking", "index_lookup",
                 "embedding", "qdrant_upsert", "tail_delete", "bookkeeping"):
        assert step in names
    assert all(step.duration_ms >= 0 for step in job.trace)
    assert job.started_at and job.finished_at
    run_ms = (job.finished_at - job.started_at).total_seconds() * 1000
    steps_ms = sum(step.duration_ms for step in job.trace)
    # Steps are sequential and cover the handler: their sum is the run less bookkeeping.
    assert steps_ms <= run_ms
    assert steps_ms >= 0.5 * run_ms
    starts = [step.started_at for step in job.trace]
    assert starts == sorted(starts)


def test_the_api_process_never_loads_torch_nor_qdrant(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from cli.kinds import load_kinds\n"
        "from producers.api.app import create_app\n"
        "from sluice.settings import load_settings\n"
        f"settings = load_settings(data_dir={str(tmp_path)!r}, api_keys='k')\n"
        "app = create_app(settings, kinds=load_kinds(settings))\n"
        "TestClient(app).get('/healthz')\n"
        "loaded = [m for m in ('torch', 'sentence_transformers', 'qdrant_client', 'transformers')"
        " if m in sys.modules]\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
