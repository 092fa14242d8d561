"""Retrieval modes, reranking, expansion and self-query through the real API: uvicorn on a
loopback port, a real worker (local Qdrant, the embedding model, a tiny cross-encoder the
test builds), and a scripted OpenAI-protocol server as the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import put_document
from tests.support.live_api import LiveAPI
from tests.support.rag_env import RagEnv, rag_env
from tests.support.scripted_llm import Reply, ScriptedLLM
from tests.support.tiny_cross_encoder import build_tiny_cross_encoder

pytestmark = pytest.mark.slow

SOURCE = "support"
DOCUMENTS = {
    "kb-e4012": ("troubleshooting", "2025-03-01",
                 "Error E-4012 on the Aquila router: the firmware signature check failed. "
                 "Download the image again over a cable."),
    "kb-e4021": ("troubleshooting", "2025-06-01",
                 "Error E-4021 on the Aquila router: the firmware signature check failed. "
                 "Download the image again over a cable."),
    "howto-reset": ("how-to", "2025-09-01",
                    "How to wipe the Nimbus storage box back to factory settings: hold the "
                    "reset button for ten seconds."),
    "policy-returns": ("policy", "2026-01-15",
                       "Returns: send any product back within thirty days of delivery."),
}
ASK_STEPS = ["retrieval_semantic", "retrieval_bm25", "fusion_rrf", "reranking", "prompt",
             "llm_generation"]


@dataclass
class Stack:
    rag: RagEnv
    llm: ScriptedLLM
    url: str
    headers: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=120)


@pytest.fixture(scope="module")
def stack(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from producers.api.app import create_app

    tmp = tmp_path_factory.mktemp("retrieval-modes")
    reranker = build_tiny_cross_encoder(tmp / "tiny-cross-encoder")
    with ScriptedLLM() as llm, rag_env(
        tmp, redis_server.url, llm_base_url=llm.url, llm_model="scripted-model",
        llm_timeout_seconds=10, llm_structured_mode="json_object", reranker_path=str(reranker),
    ) as rag:
        for doc_id, (doc_type, day, text) in DOCUMENTS.items():
            document, _ = put_document(
                rag.documents, store=rag.sluice.store, celery=rag.sluice.celery,
                settings=rag.sluice.settings, source=SOURCE, doc_id=doc_id, content=text,
                metadata={"doc_type": doc_type, "date": day},
            )
            assert document.embed_job_id is not None
            rag.finished(document.embed_job_id)
        with LiveAPI(create_app(rag.sluice.settings)) as api:
            yield Stack(rag, llm, api.url, rag.sluice.auth())


def search(stack: Stack, **params: str | int) -> dict[str, Any]:
    with stack.client() as client:
        response = client.get("/v1/search", params={"source": SOURCE, "k": 2, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def doc_ids(body: dict[str, Any]) -> list[str]:
    return [hit["doc_id"] for hit in body["hits"]]


def test_every_mode_answers_and_an_exact_code_ranks_first_with_bm25(stack: Stack) -> None:
    question = "What does E-4021 mean?"
    by_mode = {mode: search(stack, q=question, mode=mode, rerank="false")
               for mode in ("dense", "sparse", "hybrid")}
    default = search(stack, q=question, rerank="false")

    assert doc_ids(by_mode["sparse"])[0] == "kb-e4021"
    assert doc_ids(by_mode["hybrid"])[0] == "kb-e4021"
    assert len(doc_ids(by_mode["dense"])) == 2
    assert {body["served"] for body in by_mode.values()} == {"dense", "sparse", "hybrid"}
    assert default["mode"] == "hybrid" and default["served"] == "hybrid"
    with stack.client() as client:
        bad = client.get("/v1/search", params={"q": question, "mode": "fuzzy"})
    assert bad.status_code == 422


def test_the_ask_trace_has_the_named_steps_with_their_details(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content="Download the firmware again [1]."))
    with stack.client() as client:
        answer = client.post("/v1/ask", json={"question": "What is E-4012?", "source": SOURCE,
                                              "k": 2}).json()
        trace = client.get(f"/v1/traces/{answer['job_id']}").json()
        stats = client.get("/v1/stats", params={"kind": "ask"}).json()

    assert [step["name"] for step in trace["steps"]
            if step["name"] != "model_load"] == ASK_STEPS
    steps = {step["name"]: step for step in trace["steps"]}
    assert all(steps[name]["duration_ms"] > 0 for name in ASK_STEPS)
    assert steps["retrieval_semantic"]["attrs"]["model"] == "all-MiniLM-L6-v2"
    assert steps["retrieval_semantic"]["attrs"]["results"] == [4]
    assert steps["retrieval_bm25"]["attrs"]["results"][0] >= 1
    assert steps["fusion_rrf"]["attrs"]["candidates"] >= 5
    assert steps["reranking"]["attrs"]["model"] == "tiny-cross-encoder"
    assert steps["reranking"]["attrs"]["reranked"] == 4
    generation = steps["llm_generation"]["attrs"]
    assert generation["model"] == "scripted-model" and generation["completion_tokens"] > 0
    assert answer["served"] == "hybrid"
    for name in ASK_STEPS:
        assert stats["steps"][name]["p50_ms"] is not None
        assert stats["steps"][name]["p95_ms"] >= stats["steps"][name]["p50_ms"]


def test_expansion_and_self_query_go_through_the_llm_and_shape_the_search(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=json.dumps({"queries": ["factory reset storage box",
                                                            "wipe Nimbus settings"]})))
    stack.llm.enqueue(Reply(content=json.dumps({"source": None, "document_type": "how-to",
                                                "date_from": None, "date_to": None})))
    asked = len(stack.llm.requests)

    body = search(stack, q="how-to: start my NAS over from scratch", expand=2,
                  self_query="true", rerank="false")

    assert doc_ids(body) == ["howto-reset"]  # the how-to filter leaves one document
    job = stack.rag.sluice.store.get(str(body["job_id"]))
    steps = {step.name: step.attrs for step in job.trace}
    assert steps["query_expansion"]["output"]["queries"][0] == "factory reset storage box"
    assert steps["query_expansion"]["completion_tokens"] > 0
    assert steps["self_query"]["output"]["document_type"] == "how-to"
    assert steps["retrieval_semantic"]["queries"] == 3
    assert steps["fusion_rrf"]["lists"] == 6
    assert len(stack.llm.requests) == asked + 2


def test_a_self_query_filter_the_question_does_not_name_is_not_applied(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=json.dumps({"source": "warranty-archive",
                                                "document_type": None, "date_from": None,
                                                "date_to": None})))

    body = search(stack, q="What does E-4021 mean?", self_query="true", rerank="false")

    assert doc_ids(body)[0] == "kb-e4021"  # searched unfiltered
    job = stack.rag.sluice.store.get(str(body["job_id"]))
    self_query = next(step.attrs for step in job.trace if step.name == "self_query")
    assert self_query["outcome"] == "invalid"
    assert "does not occur in the question" in json.dumps(self_query["errors"])
