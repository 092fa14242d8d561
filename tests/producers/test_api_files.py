"""Files through ``POST /v1/documents`` (multipart) and email attachments, against a real
worker: each generated file ends as specified, the good ones are searchable with the right
file and page in the hit, and the refusals are 413 and 415 problems that store nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import document_id
from producers.email.intake import EmailIntake
from schemas.job import DeadReason, Job, JobStatus
from tests.support import files
from tests.support.attachment_mail import ORDER_NUMBER, mail_with_invoice
from tests.support.polling import wait_for
from tests.support.rag_env import RagEnv, rag_env

pytestmark = pytest.mark.slow
MAX_FILE = 256 * 1024
MANUAL = ["Kettle manual\nWelcome. Fill the kettle with fresh water only.",
          "Descaling\nRemove limescale with citric acid once a month.",
          "Warranty\nThe warranty lasts two years from the date of purchase."]


@dataclass
class Api:
    rag: RagEnv
    client: TestClient
    headers: dict[str, str]

    def upload(self, name: str, data: bytes, source: str = "files",
               **form: str) -> Any:
        return self.client.post("/v1/documents", headers=self.headers,
                                data={"source": source, **form}, files={"file": (name, data)})

    def settled(self, job_id: str) -> Job:
        def probe() -> Job | None:
            job = self.rag.sluice.store.get(job_id)
            return job if job.settled else None

        return wait_for(probe, timeout=180, what=f"job {job_id} to settle")

    def search(self, query: str, source: str) -> list[dict[str, Any]]:
        response = self.client.get("/v1/search", headers=self.headers,
                                   params={"q": query, "k": 3, "source": source})
        assert response.status_code == 200, response.text
        hits: list[dict[str, Any]] = response.json()["hits"]
        return hits


@pytest.fixture(scope="module")
def api(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from producers.api.app import create_app

    with rag_env(tmp_path_factory.mktemp("files-api"), redis_server.url,
                 files_max_bytes=MAX_FILE) as rag, TestClient(
        create_app(rag.sluice.settings)
    ) as client:
        yield Api(rag, client, rag.sluice.auth())


def test_a_multi_page_pdf_is_searchable_with_its_file_and_page(api: Api) -> None:
    created = api.upload("manual.pdf", files.pdf_with_text(MANUAL))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["document"]["content_type"] == "application/pdf"
    assert body["document"]["metadata"]["filename"] == "manual.pdf"
    embedded = api.rag.finished(body["embed_job_id"])
    assert embedded.result["chunks"] == 3

    hits = api.search("how do I remove limescale", "files")

    assert hits[0]["file"] == "manual.pdf" and hits[0]["page"] == 2, hits
    assert "citric acid" in hits[0]["text"]
    warranty = api.search("how long is the warranty", "files")
    assert (warranty[0]["file"], warranty[0]["page"]) == ("manual.pdf", 3)


def test_a_docx_and_a_text_file_are_searchable(api: Api) -> None:
    docx = api.upload("returns.docx", files.docx_with(
        ["Returns policy", "Unused items may be returned within 30 days for a refund."]))
    text = api.upload("hours.txt", b"The shop opens at nine and closes at six.\n")
    assert docx.status_code == 201 and text.status_code == 201, (docx.text, text.text)
    assert docx.json()["document"]["content_type"].endswith("wordprocessingml.document")
    assert text.json()["document"]["content_type"] == "text/plain"
    api.rag.finished(docx.json()["embed_job_id"])
    api.rag.finished(text.json()["embed_job_id"])

    hit = api.search("can I return an unused item", "files")[0]
    assert (hit["file"], hit["page"]) == ("returns.docx", None), hit
    assert api.search("opening hours of the shop", "files")[0]["file"] == "hours.txt"


def test_a_scanned_pdf_is_flagged_needs_ocr(api: Api) -> None:
    created = api.upload("scan.pdf", files.pdf_image_only(pages=2), source="scans")
    assert created.status_code == 201, created.text

    job = api.rag.finished(created.json()["embed_job_id"])

    assert job.result["needs_ocr"] is True and job.result["chunks"] == 0
    cleaning = next(step for step in job.trace if step.name == "cleaning")
    assert cleaning.attrs["needs_ocr"] is True and cleaning.attrs["pages"] == 2


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("locked.pdf", lambda: files.pdf_encrypted(MANUAL), "encrypted"),
    ("cut.pdf", lambda: files.truncated(files.pdf_with_text(MANUAL)), "truncated"),
    ("bomb.pdf", lambda: files.pdf_bomb(64 * 1024 * 1024), "decompression bomb"),
], ids=["encrypted", "truncated", "bomb"])
def test_an_unreadable_file_ends_dead_invalid_input_and_is_kept(
    api: Api, name: str, make: Any, reason: str
) -> None:
    data = make()
    created = api.upload(name, data, source="broken")
    assert created.status_code == 201, created.text

    job = api.settled(created.json()["embed_job_id"])

    assert job.status is JobStatus.DEAD and job.reason is DeadReason.INVALID_INPUT
    assert job.error is not None and name in job.error and reason in job.error, job.error
    kept = api.client.get(f"/v1/documents/{created.json()['document']['id']}",
                          headers=api.headers).json()
    assert base64.b64decode(kept["content"]) == data  # the raw file, for a person
    # The worker lives on: a good file after the bad one is still read.
    after = api.upload(f"after-{name}.txt", f"still alive after {name}".encode(),
                       source="broken")
    api.rag.finished(after.json()["embed_job_id"])


def test_a_file_over_the_limit_is_413_and_an_unknown_type_415(api: Api) -> None:
    before = api.rag.documents.count()
    too_big = api.upload("big.txt", b"a" * (MAX_FILE + 1))
    far_too_big = api.upload("huge.txt", b"a" * (MAX_FILE * 4))
    png = api.upload("invoice.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 512)
    latin1 = api.upload("menu.txt", "caf\xe9 cr\xe8me".encode("latin-1"))

    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    assert "big.txt" in too_big.json()["detail"]
    assert far_too_big.status_code == 413  # refused by the body limit, before any parsing
    assert png.status_code == 415 and "image/png" in png.json()["detail"]
    assert png.json()["title"] == "Unsupported Media Type"
    assert latin1.status_code == 415
    assert api.rag.documents.count() == before


def test_an_upload_needs_a_key_a_file_and_a_source(api: Api) -> None:
    no_key = api.client.post("/v1/documents", data={"source": "x"},
                             files={"file": ("a.txt", b"hello")})
    no_file = api.client.post("/v1/documents", headers=api.headers, data={"source": "x"},
                              files={"other": ("a.txt", b"hello")})
    no_source = api.client.post("/v1/documents", headers=api.headers,
                                files={"file": ("a.txt", b"hello")})
    not_base64 = api.client.post("/v1/documents", headers=api.headers, json={
        "source": "x", "content": "not base64 at all!", "content_type": "application/pdf"})

    assert no_key.status_code == 401
    assert no_file.status_code == 422 and no_file.json()["errors"][0]["loc"] == ["body", "file"]
    assert no_source.status_code == 422
    assert not_base64.status_code == 422


def test_an_email_attachment_is_a_searchable_child_of_its_message(api: Api) -> None:
    intake = EmailIntake(settings=api.rag.sluice.settings, store=api.rag.sluice.store,
                         celery=api.rag.sluice.celery, documents=api.rag.documents)
    outcome = intake.ingest(mail_with_invoice("<attached@example.com>"), schema="support_ticket")
    assert outcome.document_id is not None
    parent = api.rag.documents.get(outcome.document_id)
    links = parent.metadata["attachment_documents"]
    assert [link["filename"] for link in links] == ["invoice.pdf"]
    child = api.rag.documents.get(links[0]["document_id"])
    assert child.metadata["parent_document_id"] == parent.id
    assert child.id == document_id("email", f"{outcome.key}/attachment/0")
    assert child.embed_job_id is not None
    api.rag.finished(child.embed_job_id)

    hits = api.search(f"order number {ORDER_NUMBER}", "email")

    top = hits[0]
    assert (top["file"], top["page"], top["document_id"]) == ("invoice.pdf", 2, child.id), hits
