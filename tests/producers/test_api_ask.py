"""/v1/ask and /v1/ask/stream over real HTTP: uvicorn on a loopback port, a real worker
(retrieval through local Qdrant), and a scripted OpenAI-protocol server as the model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from cli.embedded_redis import EmbeddedRedis
from sluice.settings import api_key_id
from tests.conftest import API_KEY
from tests.support.live_api import LiveAPI
from tests.support.rag_env import RagEnv, rag_env
from tests.support.scripted_llm import Reply, ScriptedLLM
from tests.support.sse import Event, events

pytestmark = pytest.mark.slow

ANSWER = ("You can return unopened products within 30 days of delivery and the refund "
          "reaches your original payment method within five business days [1].")
TOKENS = len(ANSWER.split(" "))
QUESTION = {"question": "How long do I have to return an item?", "source": "corpus", "k": 3}


@dataclass
class Stack:
    rag: RagEnv
    llm: ScriptedLLM
    url: str
    headers: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=60)


@pytest.fixture(scope="module")
def stack(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from producers.api.app import create_app

    with ScriptedLLM() as llm, rag_env(
        tmp_path_factory.mktemp("ask-api"), redis_server.url,
        llm_base_url=llm.url, llm_model="scripted-model", llm_timeout_seconds=10,
    ) as rag:
        rag.ingest_corpus("corpus")
        with LiveAPI(create_app(rag.sluice.settings)) as api:
            yield Stack(rag, llm, api.url, rag.sluice.auth())


def test_ask_answers_with_numbered_sources_and_a_trace(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER))
    with stack.client() as client:
        response = client.post("/v1/ask", json=QUESTION)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == ANSWER
    assert body["sources"][0]["doc_id"] == "refunds.txt" and body["sources"][0]["n"] == 1
    assert body["prompt_version"] == "rag-answer/v1"
    # Attributed to the caller's key, which per-key LLM budgets charge.
    assert stack.rag.sluice.store.get(body["job_id"]).api_key_id == api_key_id(API_KEY)
    prompt = stack.llm.requests[-1]["messages"][0]["content"]
    assert "[1] (corpus: refunds.txt)" in prompt and QUESTION["question"] in prompt
    steps = {step["name"]: step for step in body["trace"]}
    assert {"retrieval_semantic", "retrieval_bm25", "fusion_rrf", "reranking", "prompt",
            "llm_generation"} <= set(steps)
    generation = steps["llm_generation"]["attrs"]
    assert generation["model"] == "scripted-model"
    assert generation["completion_tokens"] == TOKENS and generation["prompt_tokens"] > 0


def test_the_stream_delivers_the_first_token_before_the_last_is_generated(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.1))
    start = len(stack.llm.streamed)
    with stack.client() as client, client.stream("POST", "/v1/ask/stream", json=QUESTION) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        received = list(events(r))

    kinds = [e.event for e in received]
    assert kinds[:2] == ["job", "sources"] and kinds[-1] == "done"
    assert set(kinds[2:-1]) == {"token"}
    tokens = [e for e in received if e.event == "token"]
    assert "".join(e.data["text"] for e in tokens) == ANSWER
    last_generated_at = stack.llm.streamed[start:][-1][0]
    assert len(stack.llm.streamed) - start == TOKENS
    # Measured on one clock: the client held the first token while the model still wrote.
    assert tokens[0].received_at < last_generated_at - 0.5
    done = received[-1].data
    assert done["trace_id"] == received[0].data["job_id"]
    assert done["completion_tokens"] == TOKENS and done["prompt_tokens"] > 0
    assert done["total_ms"] > 0 and {s["name"] for s in done["trace"]} >= {"llm_generation"}


def read_until(response: httpx.Response, tokens: int) -> list[Event]:
    seen: list[Event] = []
    for event in events(response):
        seen.append(event)
        if sum(e.event == "token" for e in seen) == tokens:
            break
    return seen


def test_a_reconnect_with_last_event_id_resumes_without_gap_or_repeat(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.05))
    with stack.client() as client:
        with client.stream("POST", "/v1/ask/stream", json=QUESTION) as first:
            job_id = first.headers["x-sluice-job-id"]
            before = read_until(first, 5)  # then the connection drops
        last_id = [e.id for e in before if e.id][-1]
        with client.stream("GET", f"/v1/ask/{job_id}/stream",
                           headers={"Last-Event-ID": last_id}) as second:
            after = list(events(second))

    ids = [e.id for e in before + after if e.id]
    assert len(ids) == len(set(ids)) and ids == sorted(ids, key=lambda i: tuple(
        int(part) for part in i.split("-")))
    assert "job" not in [e.event for e in after]  # a resume starts after the last event seen
    text = "".join(e.data["text"] for e in before + after if e.event == "token")
    assert text == ANSWER
    assert after[-1].event == "done"
    # An EventSource reconnects by itself after `done`: it is told there is nothing left.
    with stack.client() as client:
        again = client.get(f"/v1/ask/{job_id}/stream", headers={"Last-Event-ID": after[-1].id})
    assert again.status_code == 204


def test_a_client_that_goes_away_does_not_stop_the_job(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.05))
    with stack.client() as client, client.stream("POST", "/v1/ask/stream", json=QUESTION) as r:
        job_id = r.headers["x-sluice-job-id"]
        read_until(r, 1)

    job = stack.rag.finished(job_id)
    assert job.result["answer"] == ANSWER


def test_a_transient_model_fault_is_retried_and_the_stream_says_so(stack: Stack) -> None:
    stack.llm.enqueue(Reply(status=503), Reply(content="Thirty days [1]."))
    with stack.client() as client, client.stream("POST", "/v1/ask/stream", json=QUESTION) as r:
        received = list(events(r))

    kinds = [e.event for e in received]
    assert kinds.index("retrying") < kinds.index("reset") < kinds.index("done")
    after_reset = received[kinds.index("reset"):]
    assert "".join(e.data["text"] for e in after_reset if e.event == "token") == "Thirty days [1]."


def test_a_refused_request_ends_the_stream_with_an_error(stack: Stack) -> None:
    stack.llm.enqueue(Reply(status=400, error_body={"error": {"message": "context too long"}}))
    with stack.client() as client, client.stream("POST", "/v1/ask/stream", json=QUESTION) as r:
        received = list(events(r))

    assert received[-1].event == "error"
    assert received[-1].data["reason"] == "non_retryable"
    assert received[-1].data["status"] == "dead"
    assert stack.rag.sluice.store.get(received[0].data["job_id"]).status.value == "dead"


def test_the_ask_trace_has_every_step_and_durations_add_up(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.02))
    with stack.client() as client:
        job_id = client.post("/v1/ask", json=QUESTION).json()["job_id"]
        trace = client.get(f"/v1/traces/{job_id}").json()

    names = [step["name"] for step in trace["steps"]]
    assert names == ["retrieval_semantic", "retrieval_bm25", "fusion_rrf", "reranking", "prompt",
                     "llm_generation"]
    assert all(step["duration_ms"] > 0 for step in trace["steps"])
    assert trace["steps_ms"] <= trace["run_ms"] <= trace["total_ms"]
    # The steps are the run: what is left is store bookkeeping, a few milliseconds.
    assert trace["run_ms"] - trace["steps_ms"] < max(250.0, 0.2 * trace["run_ms"])


def test_job_events_stream_state_changes_and_resume_by_version(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.05))
    with stack.client() as client:
        job_id = client.post("/v1/jobs", json={"kind": "ask", "input": QUESTION}).json()["id"]
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as r:
            received = list(events(r))
        versions = [int(e.id) for e in received if e.id]
        with client.stream("GET", f"/v1/jobs/{job_id}/events",
                           headers={"Last-Event-ID": str(versions[0])}) as r:
            resumed = [e for e in events(r) if e.id]

    assert versions == sorted(set(versions))
    statuses = [e.data["status"] for e in received if e.event == "job"]
    assert statuses[-1] == "succeeded" and received[-1].event == "end"
    assert "running" in statuses  # seen while the answer was being written
    # Every version after the one named, replayed from the job's stream.
    assert [int(e.id) for e in resumed if e.id] == versions[1:]


def test_a_blank_question_is_refused_before_any_job(stack: Stack) -> None:
    with stack.client() as client:
        assert client.post("/v1/ask", json={"question": "  \n "}).status_code == 422
        assert client.post("/v1/ask/stream", json={"question": ""}).status_code == 422


def test_the_cli_searches_and_prints_an_answer_with_its_sources(stack: Stack) -> None:
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.01))
    env = {**stack.rag.sluice.env, "SLUICE_API_URL": stack.url}

    def sluice(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    asked = sluice("ask", QUESTION["question"], "--source", "corpus", "--k", "2")
    searched = sluice("search", "forgot my password", "--k", "1")

    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith(ANSWER) and "[1] corpus:refunds.txt" in asked.stdout
    assert searched.returncode == 0, searched.stderr
    assert "corpus:password-reset.txt#0" in searched.stdout
