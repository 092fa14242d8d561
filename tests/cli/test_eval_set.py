"""The labelled set of tests/fixtures/eval is what item 9 of issue 11 asks for, and the
scripted models recognise each of its cases from the prompt the worker builds."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cli.eval_scoring import EvalCase, parse_cases
from schemas.support_ticket import SupportTicket
from tests.support.eval_llm import (
    ANSWERS_FILE,
    CASES_FILE,
    DATE_HEADER,
    FIRST_ENUM,
    CaseIndex,
    EvalLLM,
)
from workers.extraction.email_source import from_email, from_text
from workers.extraction.prompts import document_message

CASES = parse_cases(CASES_FILE.read_text(encoding="utf-8").splitlines())
ANSWERS = json.loads(ANSWERS_FILE.read_text(encoding="utf-8"))


def document(case: EvalCase) -> str:
    if case.email:
        return from_email(case.email).text
    assert case.text is not None
    return from_text(case.text, received_at=case.received_at).text


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def test_the_set_is_large_and_varied() -> None:
    assert len(CASES) >= 40
    languages = Counter(case.id.split("-")[0] for case in CASES)
    assert sum(n for language, n in languages.items() if language != "en") >= 8
    assert {"de", "fr", "es"} <= set(languages)
    assert sum(1 for case in CASES if case.gold is None) >= 6
    assert sum(1 for case in CASES if "injection" in case.id) >= 8
    assert sum(1 for case in CASES if case.email and "text/html" in case.email) >= 3
    assert all(case.notes for case in CASES)


@pytest.mark.parametrize("case", [c for c in CASES if c.gold is not None], ids=lambda c: c.id)
def test_every_gold_record_is_valid_and_grounded(case: EvalCase) -> None:
    source = document(case)
    assert case.gold is not None
    SupportTicket.model_validate(case.gold)
    assert case.gold["customer_email"] in source  # as written, case and all
    assert re.search(rf"(?<![0-9]){case.gold['order_id']}(?![0-9])", source)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_scripted_quote_is_verbatim_in_the_source(case: EvalCase) -> None:
    source = normal(document(case))
    for behaviour in ("competent", "plausible_wrong"):
        answer = ANSWERS[case.id][behaviour]
        if answer.get("error") == "invented_order_id":
            continue  # a made-up number has a made-up quote
        for quote in answer["evidence"].values():
            if quote and quote != DATE_HEADER:
                assert normal(quote) in source, (behaviour, quote)


def test_each_case_is_recognised_from_the_worker_prompt() -> None:
    index = CaseIndex([json.loads(line) for line in CASES_FILE.read_text().splitlines()])
    for case in CASES:
        prompt = document_message(from_email(case.email) if case.email else
                                  from_text(case.text or "", received_at=case.received_at), None)
        assert index.match(prompt) == case.id


@pytest.fixture
def answer_of() -> Iterator[Callable[[str, dict[str, Any]], Any]]:
    """Ask a scripted model directly (no HTTP): behaviour, request body -> parsed reply."""
    servers: dict[str, EvalLLM] = {}

    def ask(behaviour: str, body: dict[str, Any]) -> Any:
        server = servers.setdefault(behaviour, EvalLLM(behaviour))
        return json.loads(server._answer(body).content)

    yield ask
    for server in servers.values():
        server._server.server_close()


def test_the_plausible_wrong_model_fills_in_the_first_enum_and_the_date_line(
    answer_of: Callable[[str, dict[str, Any]], Any],
) -> None:
    schema = {"type": "object", "properties": {"record": {"type": "object", "properties": {
        "issue_type": {"$ref": "#/$defs/IssueType"}}}, "evidence": {"type": "object"}},
        "$defs": {"IssueType": {"enum": ["general_inquiry", "refund_request"]}}}
    case = next(c for c in CASES if c.id == "de-date-format")
    body = {"messages": [{"role": "user", "content": document_message(from_email(
        case.email or ""), None)}], "response_format": {"type": "json_object", "schema": schema}}
    assert ANSWERS[case.id]["plausible_wrong"]["record"]["issue_type"] == FIRST_ENUM
    reply = answer_of("plausible_wrong", body)
    assert reply["record"]["issue_type"] == "general_inquiry"
    assert reply["evidence"]["order_id"] == "Bestellung 41763"

    dated = next(c for c in CASES if c.id == "de-gestern")
    body["messages"][0]["content"] = document_message(from_email(dated.email or ""), None)
    reply = answer_of("plausible_wrong", body)
    assert reply["record"]["order_date"] == "2025-10-23"
    assert reply["evidence"]["order_date"] == "2025-10-23"  # the Date line as rendered


def test_the_disagreeing_model_names_another_label_on_each_call(
    answer_of: Callable[[str, dict[str, Any]], Any],
) -> None:
    case = CASES[0]
    body = {"messages": [{"role": "user", "content": document_message(from_email(
        case.email or ""), None)}]}
    labels = [answer_of("disagreeing", body)["issue_type"] for _ in range(3)]
    assert labels[0] == (case.gold or {})["issue_type"]
    assert len(set(labels)) == 3


def test_the_probe_is_answered_as_an_enforcing_endpoint(
    answer_of: Callable[[str, dict[str, Any]], Any],
) -> None:
    schema = {"type": "object", "properties": {"canary": {"type": "string", "enum": ["c-1"]}}}
    body = {"messages": [{"role": "user", "content": "Reply with a JSON object."}],
            "response_format": {"type": "json_object", "schema": schema}}
    assert answer_of("competent", body) == {"canary": "c-1"}
