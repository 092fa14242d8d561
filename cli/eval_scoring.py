"""Scoring a labelled set: what ``sluice eval`` compares, counts and prints.

Pure functions only (no store, no broker), so the rules are unit-tested on their own:

- a case whose job *succeeded* is **correct** when its record equals the gold record, and a
  **false accept** when it differs or when the case has no gold record (``null``: it had to
  go to review);
- a case whose job settled any other way (``dead``, most often ``unverified``) was **sent to
  review**; one that had not settled by the deadline is **unsettled**;
- the **automation rate** is correct / cases that have a gold record: the share of the work
  that could be done without a person and was;
- **tokens per auto-accepted record** is every token the run spent (failed attempts and
  agreement samples included) divided by the records accepted automatically.

Reviewers' resolutions exported by ``sluice dlq export`` become cases here too
(:func:`cases_from_export`), so the labelled set grows from real work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from email import message_from_string, policy
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class EvalCase(BaseModel):
    """One line of a labelled set."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    schema_name: str = Field(alias="schema", min_length=1)
    email: str | None = None
    text: str | None = None
    received_at: datetime | None = None
    gold: dict[str, Any] | None
    notes: str = ""

    @model_validator(mode="after")
    def _one_document(self) -> EvalCase:
        if bool(self.email) == bool(self.text):
            raise ValueError("give exactly one of `email` (RFC 822 text) or `text`")
        return self

    def job_input(self) -> dict[str, Any]:
        """The ``extract`` job input for this case."""
        body: dict[str, Any] = {"schema": self.schema_name}
        if self.email:
            body["email"] = self.email
        else:
            body["text"] = self.text
        if self.received_at is not None:
            body["received_at"] = self.received_at.isoformat()
        return body


class BadCaseFile(ValueError):
    """A line of the labelled set is not a case; the message names the line."""


def parse_cases(lines: Iterable[str]) -> list[EvalCase]:
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            case = EvalCase.model_validate(json.loads(line))
        except (ValueError, ValidationError) as exc:
            raise BadCaseFile(f"line {number}: {exc}") from None
        if case.id in seen:
            raise BadCaseFile(f"line {number}: the id {case.id!r} is used twice")
        seen.add(case.id)
        cases.append(case)
    return cases


class Outcome(StrEnum):
    CORRECT = "correct"
    FALSE_ACCEPT = "false_accept"
    REVIEW = "review"
    UNSETTLED = "unsettled"


@dataclass(frozen=True)
class CaseResult:
    id: str
    outcome: Outcome
    job_id: str | None
    status: str | None
    reason: str | None = None
    tokens: int = 0
    attempts: int = 0
    wrong_fields: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return re.sub(r"\s+", " ", value).strip()
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items() if item is not None}
    return value


def wrong_fields(gold: Mapping[str, Any], record: Mapping[str, Any]) -> list[str]:
    """Fields of ``gold`` the record gets wrong. Exact after JSON round trip and whitespace
    collapsing: an address with its case changed is wrong, as the issue demands."""
    gold_json = _normal(json.loads(json.dumps(dict(gold), default=str)))
    record_json = _normal(json.loads(json.dumps(dict(record), default=str)))
    return sorted(name for name, value in gold_json.items() if record_json.get(name) != value)


def job_tokens(attempts: Iterable[Mapping[str, Any]]) -> int:
    """Every token of every attempt on the ledger: failed ones and agreement samples too."""
    return sum(
        int(attempt.get("prompt_tokens") or 0) + int(attempt.get("completion_tokens") or 0)
        for attempt in attempts
    )


def failed_checks(acceptance: Any) -> list[str]:
    """``field:check`` for each failed check of a job's acceptance verdict (if it has one)."""
    if not isinstance(acceptance, Mapping):
        return []
    checks = acceptance.get("checks")
    if not isinstance(checks, list):
        return []
    return [
        f"{check.get('field', '$')}:{check.get('check', '?')}"
        for check in checks
        if isinstance(check, Mapping) and not check.get("ok", False)
    ]


def score_case(
    case: EvalCase,
    *,
    job_id: str | None,
    status: str | None,
    settled: bool,
    result: Any = None,
    reason: str | None = None,
    attempts: Iterable[Mapping[str, Any]] = (),
    acceptance: Any = None,
) -> CaseResult:
    attempts = list(attempts)
    base = CaseResult(
        id=case.id, outcome=Outcome.REVIEW, job_id=job_id, status=status, reason=reason,
        tokens=job_tokens(attempts), attempts=len(attempts),
        failed_checks=failed_checks(acceptance),
    )
    if not settled:
        return replace(base, outcome=Outcome.UNSETTLED)
    if status != "succeeded":
        return base
    if case.gold is None:
        return replace(base, outcome=Outcome.FALSE_ACCEPT, wrong_fields=["$gold_is_null"])
    record = result if isinstance(result, Mapping) else {}
    wrong = wrong_fields(case.gold, record)
    return replace(
        base, outcome=Outcome.FALSE_ACCEPT if wrong else Outcome.CORRECT, wrong_fields=wrong
    )


@dataclass(frozen=True)
class Summary:
    cases: int
    with_gold: int
    correct: int
    false_accepts: int
    review: int
    unsettled: int
    automation_rate: float
    tokens: int
    tokens_per_accepted: float | None


def summarise(results: Iterable[CaseResult], golds: int) -> Summary:
    results = list(results)
    counts = {outcome: sum(1 for r in results if r.outcome is outcome) for outcome in Outcome}
    accepted = counts[Outcome.CORRECT] + counts[Outcome.FALSE_ACCEPT]
    tokens = sum(r.tokens for r in results)
    return Summary(
        cases=len(results),
        with_gold=golds,
        correct=counts[Outcome.CORRECT],
        false_accepts=counts[Outcome.FALSE_ACCEPT],
        review=counts[Outcome.REVIEW],
        unsettled=counts[Outcome.UNSETTLED],
        automation_rate=round(counts[Outcome.CORRECT] / golds, 4) if golds else 0.0,
        tokens=tokens,
        tokens_per_accepted=round(tokens / accepted, 1) if accepted else None,
    )


def report_json(results: list[CaseResult], summary: Summary, **about: Any) -> dict[str, Any]:
    return {
        **about,
        "summary": asdict(summary),
        "cases": [{**asdict(r), "outcome": r.outcome.value} for r in results],
    }


def report_text(results: list[CaseResult], summary: Summary) -> str:
    width = max([len(r.id) for r in results] + [4])
    lines = [f"{'case':<{width}}  {'outcome':<12}  {'status':<20}  {'tokens':>7}  details"]
    for r in results:
        status = r.status or "-"
        if r.reason:
            status += f"/{r.reason}"
        details = ", ".join(
            [f"wrong: {' '.join(r.wrong_fields)}"] if r.wrong_fields else []
        ) or ", ".join(r.failed_checks[:4])
        lines.append(
            f"{r.id:<{width}}  {r.outcome.value:<12}  {status:<20}  {r.tokens:>7}  {details}"
        )
    rate = f"{summary.automation_rate:.1%}"
    per = "-" if summary.tokens_per_accepted is None else f"{summary.tokens_per_accepted:,.0f}"
    lines += [
        "",
        f"cases {summary.cases} ({summary.with_gold} with a gold record)",
        f"auto-accepted correct  {summary.correct}",
        f"false accepts          {summary.false_accepts}",
        f"sent to review         {summary.review}",
        *([f"unsettled              {summary.unsettled}"] if summary.unsettled else []),
        f"automation rate        {rate} (correct / cases with a gold record)",
        f"tokens per auto-accepted record  {per} ({summary.tokens:,} tokens in all)",
    ]
    return "\n".join(lines) + "\n"


def _looks_like_email(source: str) -> bool:
    head, separator, _ = source.partition("\n\n")
    if not separator:
        return False
    message = message_from_string(source, policy=policy.default)
    return bool(message.get("From") or message.get("Date")) and ":" in head.split("\n")[0]


def cases_from_export(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Eval cases from ``sluice dlq export`` lines: the reviewer's record is the gold one.

    The export's ``source`` is the job's raw email when it had one, else its text.
    Lines without a source or a record are skipped: there is nothing to score them on.
    """
    for line in lines:
        if not line.strip():
            continue
        example = json.loads(line)
        source, record = example.get("source"), example.get("record")
        if not isinstance(source, str) or not source or not isinstance(record, dict):
            continue
        case: dict[str, Any] = {"id": f"export-{example.get('job_id')}"}
        case["email" if _looks_like_email(source) else "text"] = source
        case["schema"] = example.get("schema_name") or "support_ticket"
        case["gold"] = record
        reviewer = example.get("reviewer") or "a reviewer"
        changed = sorted({
            str(change.get("field", "")).split(".")[0]
            for change in example.get("diff_from_best") or []
            if isinstance(change, dict)
        })
        case["notes"] = f"resolved by {reviewer}" + (
            f"; the model got {', '.join(changed)} wrong" if changed else ""
        )
        yield case
