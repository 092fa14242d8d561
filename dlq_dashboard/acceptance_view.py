"""Why the acceptance gate sent a job to review, made readable for the reviewer.

Three things, all read from ``job.acceptance`` (the gate's verdict, see
:mod:`schemas.acceptance`):

- the failed checks, per field;
- the source view the gate read, with its regions marked (quoted replies, forwarded parts,
  text addressed to a model) and the evidence quotes highlighted by their offsets. The HTML is
  built here from escaped text segments and a fixed set of tags and class names: nothing of
  the source is ever emitted unescaped, so a hostile mail cannot add markup to the page;
- the record to start from: the gate's best candidate, with fields the headers may ground
  (the sender's address and name) filled from the headers where the candidate has no value
  or its value failed a check.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from itertools import pairwise
from typing import Any

from markupsafe import Markup
from pydantic import BaseModel, ValidationError

from libs.acceptance.fields import FieldRule, InvalidAcceptanceMetadata, field_rules
from schemas.acceptance import AcceptanceVerdict, Check, Region, RegionKind

# Where regions overlap, the more suspicious kind is the one shown.
_PRIORITY = {
    RegionKind.SUSPECT: 5, RegionKind.QUOTED: 4, RegionKind.FORWARDED: 4,
    RegionKind.SIGNATURE: 3, RegionKind.ATTACHMENT: 3, RegionKind.HEADER: 2,
    RegionKind.AUTHOR: 1,
}
REGION_TITLES = {
    RegionKind.HEADER: "header",
    RegionKind.AUTHOR: "the author's own words",
    RegionKind.QUOTED: "quoted reply: not the author's words",
    RegionKind.FORWARDED: "forwarded message: not the author's words",
    RegionKind.SUSPECT: "suspect: text addressed to a model",
    RegionKind.SIGNATURE: "signature",
    RegionKind.ATTACHMENT: "an attached file: allowed only where the schema says so",
}


@dataclass(frozen=True)
class QuoteSpan:
    start: int
    end: int
    field: str
    ok: bool


@dataclass(frozen=True)
class AcceptanceView:
    accepted: bool
    failed: dict[str, list[Check]]
    source: Markup
    kinds: list[str]


def verdict_of(job: Any) -> AcceptanceVerdict | None:
    """The job's verdict whether the store gave a dict or a typed model; None if it has none
    or it is unreadable (an item must still open)."""
    raw = getattr(job, "acceptance", None)
    if raw is None:
        return None
    if isinstance(raw, AcceptanceVerdict):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json")
    try:
        return AcceptanceVerdict.model_validate(raw)
    except ValidationError:
        return None


def failed_by_field(checks: Sequence[Check]) -> dict[str, list[Check]]:
    failed: dict[str, list[Check]] = {}
    for check in checks:
        if not check.ok:
            failed.setdefault(check.field, []).append(check)
    return failed


def quote_spans(checks: Sequence[Check]) -> list[QuoteSpan]:
    """Where each field's quote was found; a field's span is ``ok`` only if all its checks are."""
    failed_fields = {check.field for check in checks if not check.ok}
    spans = []
    for check in checks:
        if check.span is not None:
            start, end = check.span
            spans.append(QuoteSpan(start, end, check.field, check.field not in failed_fields))
    return spans


def _kind_at(position: int, regions: Sequence[Region]) -> RegionKind | None:
    covering = [r.kind for r in regions if r.start <= position < r.end]
    return max(covering, key=lambda kind: _PRIORITY.get(kind, 0)) if covering else None


def highlight(source: str, regions: Sequence[Region], spans: Sequence[QuoteSpan]) -> Markup:
    """``source`` as HTML: each run of text in one region and under the same quotes becomes
    one element; every piece of text is escaped."""
    size = len(source)
    points = {0, size}
    for start, end in [(r.start, r.end) for r in regions] + [(s.start, s.end) for s in spans]:
        points.update(min(max(point, 0), size) for point in (start, end))
    bounds = sorted(points)
    pieces: list[str] = []
    for start, end in pairwise(bounds):
        if start == end:
            continue
        text = html.escape(source[start:end], quote=True)
        kind = _kind_at(start, regions)
        classes = f"src src-{kind.value}" if kind else "src"
        title = REGION_TITLES.get(kind, "") if kind else ""
        quotes = [s for s in spans if s.start <= start < s.end]
        if quotes:
            names = ", ".join(sorted({s.field for s in quotes}))
            ok = all(s.ok for s in quotes)
            classes += " evidence" + ("" if ok else " evidence-failed")
            title = f"evidence for {names}" + (f" ({title})" if title else "")
            pieces.append(f'<mark class="{classes}" title="{html.escape(title)}">{text}</mark>')
        else:
            pieces.append(f'<span class="{classes}" title="{html.escape(title)}">{text}</span>')
    return Markup("".join(pieces))


def header_values(
    rules: Mapping[str, FieldRule], sender: str | None, subject: str | None
) -> dict[str, str]:
    """Values the headers hold for the fields that allow them: an email field gets the From
    address as written, a ``*name*`` field the From display name, a ``subject``/``title``
    field the Subject."""
    name, address = parseaddr(sender or "")
    values: dict[str, str] = {}
    for field_name, rule in rules.items():
        if RegionKind.HEADER not in rule.regions:
            continue
        lowered = field_name.lower()
        if rule.kind == "email" and address:
            values[field_name] = address
        elif rule.kind in ("string", "free_text") and "name" in lowered and name:
            values[field_name] = name
        elif rule.kind in ("string", "free_text") and subject and (
            "subject" in lowered or "title" in lowered
        ):
            values[field_name] = subject
    return values


def starting_record(
    verdict: AcceptanceVerdict | None,
    best_output: Mapping[str, Any] | None,
    model: type[BaseModel],
    rules: Mapping[str, FieldRule],
    *,
    sender: str | None,
    subject: str | None,
    failing: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, str]]:
    """The record the form starts from, and the fields the headers filled.

    The gate's best candidate (else the best attempt's output), with each field the headers
    may ground filled from them where the candidate left it empty or it failed a check.
    """
    candidate = verdict.record if verdict is not None and verdict.record else None
    record = dict(candidate or unwrap_record(best_output, model) or {})
    failed = set(failing) | (set(failed_by_field(verdict.checks)) if verdict else set())
    filled = {}
    for name, value in header_values(rules, sender, subject).items():
        if record.get(name) in (None, "") or name in failed:
            if record.get(name) != value:
                filled[name] = value
            record[name] = value
    return record, filled


def rules_of(model: type[BaseModel]) -> dict[str, FieldRule]:
    """The model's field rules; none when its metadata is broken (the item must still open)."""
    try:
        return field_rules(model)
    except InvalidAcceptanceMetadata:
        return {}


def check_messages(verdict: AcceptanceVerdict | None) -> dict[str, str]:
    """One message per field whose checks failed, for the form's field errors."""
    if verdict is None:
        return {}
    return {
        name: "; ".join(f"{check.check}: {check.detail}" for check in checks)
        for name, checks in failed_by_field(verdict.checks).items()
    }


def unwrap_record(
    parsed: Mapping[str, Any] | None, model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """An attempt's output as the record: a verified extraction answers
    ``{"record": ..., "evidence": ...}``, unless the schema itself has a ``record`` field."""
    if not isinstance(parsed, Mapping):
        return {}
    own = model.model_fields if model is not None else {}
    wrapped = isinstance(parsed.get("record"), Mapping) and (
        "record" not in own if model is not None else set(parsed) <= {"record", "evidence"}
    )
    return dict(parsed["record"]) if wrapped else dict(parsed)


def acceptance_view(verdict: AcceptanceVerdict) -> AcceptanceView:
    kinds = sorted({r.kind for r in verdict.regions}, key=lambda k: _PRIORITY.get(k, 0))
    return AcceptanceView(
        accepted=verdict.accepted,
        failed=failed_by_field(verdict.checks),
        source=highlight(verdict.source, verdict.regions, quote_spans(verdict.checks)),
        kinds=[kind.value for kind in kinds],
    )
