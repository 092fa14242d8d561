"""sluice.client's documents, search and answers against a live API with a real worker
(local Qdrant) and a scripted model: an answer streamed through a connection a proxy
drops mid-answer arrives whole, each token once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cli.embedded_redis import EmbeddedRedis
from sluice.client import (
    AnswerEvent,
    AnswerFailed,
    AsyncSluiceClient,
    DocumentNotFound,
    SluiceClient,
)
from tests.conftest import API_KEY
from tests.support.dropping_proxy import DroppingProxy
from tests.support.live_api import LiveAPI
from tests.support.rag_env import RagEnv, rag_env
from tests.support.scripted_llm import Reply, ScriptedLLM

pytestmark = pytest.mark.slow

ANSWER = ("You can return unopened products within 30 days of delivery and the refund "
          "reaches your original payment method within five business days [1].")
QUESTION = "How long do I have to return an item?"


@dataclass
class Stack:
    rag: RagEnv
    llm: ScriptedLLM
    api: LiveAPI


@pytest.fixture(scope="module")
def stack(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from producers.api.app import create_app

    with ScriptedLLM() as llm, rag_env(
        tmp_path_factory.mktemp("client-answers"), redis_server.url,
        llm_base_url=llm.url, llm_model="scripted-model", llm_timeout_seconds=10,
    ) as rag:
        rag.ingest_corpus("corpus")
        with LiveAPI(create_app(rag.sluice.settings)) as api:
            yield Stack(rag, llm, api)


def test_an_answer_streams_whole_through_a_dropped_connection(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.05))
    with DroppingProxy(stack.api.port, marker=b"event: token", after=5) as proxy, SluiceClient(
        proxy.url, API_KEY
    ) as client:
        received = list(client.ask_stream(QUESTION, source="corpus", k=3))

    assert proxy.dropped == 1
    kinds = [event.event for event in received]
    assert kinds[0] == "sources" and kinds[-1] == "done" and set(kinds[1:-1]) == {"token"}
    assert "".join(event.text for event in received) == ANSWER
    ids = [event.id for event in received]
    assert len(ids) == len(set(ids))  # nothing twice across the two connections
    resumes = [head for head in proxy.requests if head.startswith("GET /v1/ask/")]
    assert len(resumes) == 1 and f"last-event-id: {ids[5]}" in resumes[0].lower()
    assert received[-1].data["status"] == "succeeded"


def test_a_failed_answer_raises_with_the_job(stack: Stack) -> None:
    stack.llm.enqueue(Reply(status=400, error_body={"error": {"message": "context too long"}}))
    with SluiceClient(stack.api.url, API_KEY) as client, pytest.raises(AnswerFailed) as failed:
        list(client.ask_stream(QUESTION, source="corpus"))

    assert failed.value.extra["reason"] == "non_retryable"
    assert stack.rag.sluice.store.get(failed.value.extra["job_id"]).status.value == "dead"


def test_documents_search_and_a_whole_answer(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER))
    with SluiceClient(stack.api.url, API_KEY) as client:
        written = client.put_document("notes", "Parcels to Iceland ship on Tuesdays.",
                                      doc_id="iceland.txt", metadata={"team": "ops"})
        assert written.changed and written.embed_job_id
        again = client.put_document("notes", "Parcels to Iceland ship on Tuesdays.",
                                    doc_id="iceland.txt", metadata={"team": "ops"})
        assert not again.changed and again.embed_job_id is None
        stack.rag.finished(written.embed_job_id)
        shown = client.get_document(written.document.id)
        assert shown.content == "Parcels to Iceland ship on Tuesdays." and shown.indexed

        hits = client.search("when do parcels go to Iceland", k=1, source="notes").hits
        assert [(hit.source, hit.doc_id) for hit in hits] == [("notes", "iceland.txt")]
        sparse = client.search("parcels Iceland", k=1, source="notes", mode="sparse",
                               rerank=False)
        assert sparse.served == "sparse" and sparse.hits[0].doc_id == "iceland.txt"

        answer = client.ask(QUESTION, source="corpus", k=3)
        assert answer.answer == ANSWER and answer.sources[0].n == 1
        assert {step.name for step in answer.trace} >= {
            "retrieval_semantic", "retrieval_bm25", "fusion_rrf", "reranking", "llm_generation"}
        assert answer.served == "hybrid"

        deleted = client.delete_document(written.document.id)
        assert deleted.document_id == written.document.id and deleted.delete_job_id
        with pytest.raises(DocumentNotFound):
            client.get_document(written.document.id)


def test_the_async_client_streams_an_answer_through_a_drop(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.05))

    async def scenario(url: str) -> tuple[bool, list[AnswerEvent]]:
        async with AsyncSluiceClient(url, API_KEY) as client:
            return await client.ready(), [
                event async for event in client.ask_stream(QUESTION, source="corpus", k=3)]

    with DroppingProxy(stack.api.port, marker=b"event: token", after=3) as proxy:
        ready, received = asyncio.run(scenario(proxy.url))

    assert ready and proxy.dropped == 1
    assert "".join(event.text for event in received) == ANSWER
    assert received[-1].event == "done"
