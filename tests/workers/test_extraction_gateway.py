"""The LLM gateway inside the ``extract`` kind: the response cache, model routes and PII
redaction, with a real worker, the real openai client and scripted OpenAI-protocol servers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from libs.llm import budget as llm_budget
from schemas.job import JobStatus
from tests.conftest import REPO_ROOT, SluiceEnv
from tests.support.extraction_cases import (
    TICKET_TEXT,
    VALID_TICKET,
    extraction_env,
    settled,
    submit_extract,
    ticket,
    valid_reply,
)
from tests.support.scripted_llm import Reply, ScriptedLLM

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "eval"


def test_a_cached_repeat_of_a_temperature_zero_attempt_costs_nothing_and_says_so(
    sluice_env: SluiceEnv,
) -> None:
    with ScriptedLLM() as llm, extraction_env(
        sluice_env, llm, llm_cache=True, llm_budgets="global:tokens:hour=100000"
    ) as env:
        env.worker(queues="gpu,io")
        llm.enqueue(valid_reply())
        first = settled(env, submit_extract(env).id)
        repeat = settled(env, submit_extract(env).id)
        assert first.status is repeat.status is JobStatus.SUCCEEDED
        assert repeat.result == first.result == VALID_TICKET
        assert len(llm.requests) == 1  # the model answered once
        [asked], [cached] = first.attempts, repeat.attempts
        assert (asked.cached, asked.prompt_tokens, asked.completion_tokens) == (False, 100, 40)
        assert (cached.cached, cached.prompt_tokens, cached.completion_tokens) == (True, 0, 0)
        assert cached.outcome == "valid" and cached.raw_text == asked.raw_text
        assert cached.messages_hash == asked.messages_hash
        spent = {u.rule.name: u.used for u in llm_budget.usage(env.settings)}
        assert spent == {"global:tokens:hour": 140.0}  # the repeat charged no budget
        [step] = [step for step in repeat.trace if step.name == "llm_extraction"]
        assert step.attrs["cached"] is True and step.attrs["route"] == "default"


def test_correction_attempts_are_not_answered_from_the_cache(sluice_env: SluiceEnv) -> None:
    """At temperature 0 a repeated correction would repeat the mistake it corrects."""
    text = TICKET_TEXT.replace("cracked screen", "broken hinge")
    with ScriptedLLM() as llm, extraction_env(
        sluice_env, llm, llm_cache=True, extract_retry_temperature=0.0
    ) as env:
        env.worker(queues="gpu,io")
        llm.enqueue(Reply(content=ticket(order_id="4821")), valid_reply())
        first = settled(env, submit_extract(env, text=text).id)
        llm.enqueue(valid_reply())
        again = settled(env, submit_extract(env, text=text).id)
        assert [a.outcome for a in first.attempts] == ["invalid", "valid"]
        assert [(a.outcome, a.cached) for a in again.attempts] == [
            ("invalid", True), ("valid", False)]
        assert len(llm.requests) == 3
        # The same correction, asked of the model again rather than replayed.
        assert llm.requests[2]["messages"] == llm.requests[1]["messages"]
        assert llm.requests[2]["temperature"] == 0


def test_routes_send_first_attempts_small_and_retries_and_long_documents_big(
    sluice_env: SluiceEnv,
) -> None:
    with ScriptedLLM(model="small-model") as small, ScriptedLLM(model="big-model") as big:
        routes = [
            {"name": "long-docs", "min_input_chars": 1500, "base_url": big.url,
             "model": "big-model"},
            {"name": "retries-big", "min_attempt": 2, "base_url": big.url,
             "model": "big-model"},
            {"name": "tickets-small", "schema": "support_ticket", "model": "small-model"},
        ]
        with extraction_env(sluice_env, small, llm_routes=json.dumps(routes)) as env:
            env.worker(queues="gpu,io")
            small.enqueue(Reply(content=ticket(order_id="4821")))
            big.enqueue(valid_reply(), valid_reply())
            retried = settled(env, submit_extract(env).id)
            long_text = TICKET_TEXT + "\n\n" + "The parcel was left at the door. " * 60
            long = settled(env, submit_extract(env, text=long_text).id)

            assert retried.status is long.status is JobStatus.SUCCEEDED
            assert [(a.route, a.model, a.outcome) for a in retried.attempts] == [
                ("tickets-small", "small-model", "invalid"),
                ("retries-big", "big-model", "valid"),
            ]
            assert [(a.route, a.model) for a in long.attempts] == [("long-docs", "big-model")]
            assert [r["model"] for r in small.requests] == ["small-model"]
            assert [r["model"] for r in big.requests] == ["big-model", "big-model"]

            stats = env.api().get("/v1/stats/extraction", headers=env.auth()).json()
            routes_seen = {r["route"]: r for r in stats["routes"]}
            assert {name: (r["calls"], r["valid"], r["models"])
                    for name, r in routes_seen.items()} == {
                "tickets-small": (1, 0, ["small-model"]),
                "retries-big": (1, 1, ["big-model"]),
                "long-docs": (1, 1, ["big-model"]),
            }
            assert routes_seen["long-docs"]["tokens"] == 140


def _fixture_case(case_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = [json.loads(line) for line in (FIXTURES / "support_tickets.jsonl").open()]
    answers = json.loads((FIXTURES / "scripted_answers.json").read_text())
    row = next(row for row in rows if row["id"] == case_id)
    return row, answers[case_id]["competent"]


def test_the_model_never_sees_the_redacted_data_and_the_record_keeps_the_real_values(
    sluice_env: SluiceEnv,
) -> None:
    """Verified acceptance: the gate checks the restored values and quotes against the
    real source, so a placeholder can only pass by standing for the real value."""
    pytest.importorskip("presidio_analyzer", reason="needs the redaction extra")
    row, competent = _fixture_case("en-plain-absolute-date")
    card = "4111 1111 1111 1111"
    email = row["email"].replace(
        "Could you send a replacement?", f"I paid with my card {card}. Could you send a "
        "replacement?")
    real_email, real_name = row["gold"]["customer_email"], row["gold"]["customer_name"]

    def model(body: dict[str, Any]) -> Reply:
        """Answers as a competent model would: copying the placeholders it was shown."""
        document = body["messages"][-1]["content"]
        shown_email = re.search(r"email-\d+@redacted\.invalid", document)
        shown_name = re.search(r"<PERSON_\d+>", document)
        answer = json.dumps(competent)
        if shown_email and shown_name:
            answer = answer.replace(real_email, shown_email[0]).replace(
                real_name, shown_name[0])
        return Reply(content=answer, prompt_tokens=100, completion_tokens=40)

    policy = {"support_ticket": ["email", "card", "person"]}
    with ScriptedLLM(model) as llm, extraction_env(
        sluice_env, llm, acceptance="verified", redaction=json.dumps(policy)
    ) as env:
        worker = env.worker(queues="gpu,io")
        job = settled(env, submit_extract(env, text=None, email=email).id)
        assert job.status is JobStatus.SUCCEEDED, (job.error, job.acceptance)
        assert job.result == row["gold"]  # the real values, accepted by the gate
        assert len(llm.requests) == 3  # the attempt and two agreement samples
        sent = json.dumps(llm.requests)
        for secret in (real_email, card, real_name, card.replace(" ", "")):
            assert secret not in sent
        assert "<CARD_1>" in sent and "email-1@redacted.invalid" in sent
        # The ledger keeps the answer as the model wrote it; logs and traces hold no value.
        assert all(real_email not in a.raw_text for a in job.attempts)
        assert real_email not in json.dumps([step.model_dump(mode="json") for step in job.trace])
        log = Path(worker.log_path).read_text(errors="replace")
        assert real_email not in log and card not in log
