"""/v1/documents and /v1/search against a real worker (one per module: the model loads once)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import document_id
from tests.support.rag_env import CONTENT_TYPES, CORPUS, RagEnv, corpus_queries, rag_env

pytestmark = pytest.mark.slow


@dataclass
class Api:
    rag: RagEnv
    client: TestClient
    headers: dict[str, str]


@pytest.fixture(scope="module")
def api(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from producers.api.app import create_app

    with rag_env(tmp_path_factory.mktemp("documents-api"), redis_server.url) as rag, TestClient(
        create_app(rag.sluice.settings)
    ) as client:
        yield Api(rag, client, rag.sluice.auth())


@pytest.fixture(scope="module")
def corpus(api: Api) -> None:
    """The fixture corpus, posted through the API and embedded."""
    for path in sorted(CORPUS.iterdir()):
        if path.suffix not in CONTENT_TYPES:
            continue
        response = api.client.post("/v1/documents", headers=api.headers, json={
            "source": "corpus", "doc_id": path.name, "content": path.read_text(),
            "content_type": CONTENT_TYPES[path.suffix].value,
        })
        assert response.status_code == 201, response.text
        api.rag.finished(response.json()["embed_job_id"])


def test_post_get_repost_and_delete_a_document(api: Api) -> None:
    body = {"source": "api", "doc_id": "faq-1", "content": "Our shop opens at nine.",
            "metadata": {"lang": "en"}}
    created = api.client.post("/v1/documents", headers=api.headers, json=body)
    assert created.status_code == 201
    document_id = created.json()["document"]["id"]
    api.rag.finished(created.json()["embed_job_id"])

    shown = api.client.get(f"/v1/documents/{document_id}", headers=api.headers).json()
    assert shown["chunk_count"] == 1 and shown["indexed"] is True
    assert shown["content"] == body["content"] and shown["metadata"] == {"lang": "en"}

    again = api.client.post("/v1/documents", headers=api.headers, json=body)
    assert again.status_code == 200
    assert again.json()["changed"] is False and again.json()["embed_job_id"] is None

    deleted = api.client.delete(f"/v1/documents/{document_id}", headers=api.headers)
    assert deleted.status_code == 202
    assert api.rag.finished(deleted.json()["delete_job_id"]).result["deleted"] == 1
    assert api.client.get(f"/v1/documents/{document_id}", headers=api.headers).status_code == 404
    assert api.client.delete(f"/v1/documents/{document_id}", headers=api.headers).status_code == 404
    assert api.rag.points("api") == []


def test_an_email_without_doc_id_is_keyed_by_its_message_id(api: Api) -> None:
    raw = (CORPUS / "invoice-email.eml").read_text()
    response = api.client.post("/v1/documents", headers=api.headers, json={
        "source": "mail", "content": raw, "content_type": "message/rfc822",
    })
    assert response.status_code == 201
    assert response.json()["document"]["doc_id"] == "<invoices-howto@example.com>"
    api.rag.finished(response.json()["embed_job_id"])


def test_documents_need_a_key_and_a_known_content_type(api: Api) -> None:
    body = {"source": "x", "content": "text"}
    assert api.client.post("/v1/documents", json=body).status_code == 401
    bad = api.client.post("/v1/documents", headers=api.headers,
                          json={**body, "content_type": "application/pdf"})
    assert bad.status_code == 422


@pytest.mark.usefixtures("corpus")
@pytest.mark.parametrize("case", corpus_queries(), ids=lambda case: case["doc_id"])
def test_the_fixture_corpus_answers_a_known_query_with_the_right_document_first(
    api: Api, case: dict[str, str]
) -> None:
    response = api.client.get(
        "/v1/search", headers=api.headers, params={"q": case["query"], "k": 3, "source": "corpus"}
    )

    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert hits[0]["doc_id"] == case["doc_id"], [(h["doc_id"], h["score"]) for h in hits]
    assert set(hits[0]) >= {"score", "doc_id", "source", "chunk_index", "text", "document_id"}
    assert hits[0]["document_id"] == document_id("corpus", case["doc_id"])
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


@pytest.mark.usefixtures("corpus")
def test_search_only_returns_the_requested_source(api: Api) -> None:
    other = api.client.post("/v1/documents", headers=api.headers, json={
        "source": "elsewhere", "doc_id": "refunds-copy",
        "content": (CORPUS / "refunds.txt").read_text(),
    })
    api.rag.finished(other.json()["embed_job_id"])

    hits = api.client.get("/v1/search", headers=api.headers,
                          params={"q": "refund within 30 days", "source": "corpus"}).json()["hits"]
    everywhere = api.client.get("/v1/search", headers=api.headers,
                                params={"q": "refund within 30 days", "k": 10}).json()["hits"]

    assert {h["source"] for h in hits} == {"corpus"}
    assert "elsewhere" in {h["source"] for h in everywhere}


def test_a_blank_query_is_refused_before_any_job(api: Api) -> None:
    response = api.client.get("/v1/search", headers=api.headers, params={"q": "   "})
    assert response.status_code == 422
