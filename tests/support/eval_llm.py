"""Scripted OpenAI-protocol models for the labelled set: competent, plausible but wrong, split.

Each behaviour answers every request for a case of ``tests/fixtures/eval`` the way such a
model would. The case is found by the words of the document in the prompt (the case whose
words overlap most with the user turns), so the server needs no marker the worker would
have to carry. Answers come from ``scripted_answers.json``:

- ``competent``: the gold record with verbatim quotes (its best guess where gold is null);
- ``plausible_wrong``: the classic error a weak model makes on that case, quoted where the
  source holds a quote (an injected payload, a quoted reply's order id, the message date,
  the first enum value as the request lists it, an address with its case changed);
- ``disagreeing``: the competent answer, but each request for a case names another
  ``issue_type``, so independent samples never agree on the label.

The reply has the shape the request's schema asks for: ``{"record", "evidence"}`` when the
schema has a ``record`` property, the bare record otherwise (``SLUICE_ACCEPTANCE=schema-only``).

Run one on its own for ``sluice eval`` by hand::

    python -m tests.support.eval_llm competent --port 8089
"""

from __future__ import annotations

import argparse
import html
import json
import re
import threading
from collections import Counter
from contextlib import suppress
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.support.scripted_llm import Reply, ScriptedLLM

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "eval"
CASES_FILE = FIXTURES / "support_tickets.jsonl"
ANSWERS_FILE = FIXTURES / "scripted_answers.json"
BEHAVIOURS = ("competent", "plausible_wrong", "disagreeing")
FIRST_ENUM = "$first_enum"
DATE_HEADER = "$date_header"
ISSUE_TYPES = ["refund_request", "delivery_issue", "product_defect", "general_inquiry"]


def load_cases(path: Path = CASES_FILE) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def case_text(case: dict[str, Any]) -> str:
    """The words a model would be shown for ``case``: sender, subject and body text."""
    if case.get("text"):
        return str(case["text"])
    message = message_from_string(case["email"], policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain", "html"))
    body = str(part.get_content()) if part is not None else ""
    if part is not None and part.get_content_subtype() == "html":
        body = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return f"{message.get('From', '')}\n{message.get('Subject', '')}\n{body}"


class CaseIndex:
    """Finds the case a prompt is about by word overlap (Jaccard) with each case's text."""

    def __init__(self, cases: list[dict[str, Any]]) -> None:
        self._words = {case["id"]: _words(case_text(case)) for case in cases}

    def match(self, prompt: str) -> str:
        words = _words(prompt)

        def score(case_id: str) -> float:
            own = self._words[case_id]
            return len(own & words) / max(1, len(own | words))

        return str(max(self._words, key=score))


def _user_text(body: dict[str, Any]) -> str:
    return "\n".join(
        str(message.get("content", ""))
        for message in body.get("messages", [])
        if message.get("role") == "user"
    )


def _request_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    response_format = body.get("response_format") or {}
    if isinstance(response_format.get("schema"), dict):
        return dict(response_format["schema"])
    json_schema = response_format.get("json_schema") or {}
    if isinstance(json_schema.get("schema"), dict):
        return dict(json_schema["schema"])
    return None


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (and a one-branch ``anyOf``/``allOf``) to the node it names."""
    for _ in range(8):
        if "$ref" in node:
            target: Any = schema
            for part in str(node["$ref"]).lstrip("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node = target
        elif len(node.get("allOf", [])) == 1:
            node = node["allOf"][0]
        else:
            return node
    return node


def _property(schema: dict[str, Any] | None, *path: str) -> dict[str, Any] | None:
    if schema is None:
        return None
    node: dict[str, Any] = schema
    for name in path:
        node = _resolve(schema, node)
        properties = node.get("properties")
        if not isinstance(properties, dict) or name not in properties:
            return None
        node = properties[name]
    return _resolve(schema, node)


def _wants_envelope(body: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    if schema is not None:
        return _property(schema, "record") is not None
    return '"evidence"' in json.dumps(body.get("messages", []))


def _enum_values(schema: dict[str, Any] | None, envelope: bool) -> list[str]:
    node = _property(schema, *(("record", "issue_type") if envelope else ("issue_type",)))
    values = (node or {}).get("enum")
    return [str(value) for value in values] if isinstance(values, list) and values else ISSUE_TYPES


def _date_header(prompt: str) -> str | None:
    match = re.search(r"^\s*Date:\s*(.+?)\s*$", prompt, re.MULTILINE)
    return match.group(1) if match else None


class EvalLLM(ScriptedLLM):
    """A :class:`ScriptedLLM` answering every case of the labelled set as ``behaviour``."""

    def __init__(
        self,
        behaviour: str,
        cases: list[dict[str, Any]] | None = None,
        answers: dict[str, Any] | None = None,
        port: int = 0,
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {BEHAVIOURS}, not {behaviour!r}")
        super().__init__(responder=self._answer, model=f"eval-{behaviour}", port=port)
        self.behaviour = behaviour
        cases = cases if cases is not None else load_cases()
        self.answers = answers or json.loads(ANSWERS_FILE.read_text(encoding="utf-8"))
        self.index = CaseIndex(cases)
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()

    def __enter__(self) -> EvalLLM:
        super().__enter__()
        return self

    def _answer(self, body: dict[str, Any]) -> Reply:
        schema = _request_schema(body)
        canary = _property(schema, "canary")
        if canary is not None:  # the endpoint probe: prove the schema is enforced
            return Reply(content=json.dumps({"canary": (canary.get("enum") or ["x"])[0]}))
        prompt = _user_text(body)
        case_id = self.index.match(prompt)
        with self._calls_lock:
            call = self.calls[case_id]
            self.calls[case_id] += 1
        envelope = _wants_envelope(body, schema)
        record, evidence = self._script(case_id, call, _enum_values(schema, envelope), prompt)
        payload = {"record": record, "evidence": evidence} if envelope else record
        return Reply(content=json.dumps(payload, ensure_ascii=False))

    def _script(
        self, case_id: str, call: int, enum: list[str], prompt: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        scripted = self.answers[case_id]
        answer = scripted["plausible_wrong" if self.behaviour == "plausible_wrong" else
                          "competent"]
        record = dict(answer["record"])
        evidence = {field: quote for field, quote in answer["evidence"].items() if quote}
        if self.behaviour == "disagreeing":
            start = enum.index(record["issue_type"]) if record["issue_type"] in enum else 0
            record["issue_type"] = enum[(start + call) % len(enum)]
        for field, value in list(record.items()):
            if value == FIRST_ENUM:
                record[field] = enum[0]
        for field, quote in list(evidence.items()):
            if quote == DATE_HEADER:
                header = _date_header(prompt)
                if header is None:
                    del evidence[field]
                else:
                    evidence[field] = header
        return record, evidence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("behaviour", choices=BEHAVIOURS)
    parser.add_argument("--port", type=int, default=8089)
    options = parser.parse_args()
    with EvalLLM(options.behaviour, port=options.port) as server:
        print(f"{options.behaviour} model on {server.url}", flush=True)
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
