"""Verifying the model's evidence: each value must come from a verbatim quote in an allowed region.

Deterministic, field by field (one check each, the first that fails, or ``verified``):

1. the quote occurs in the source view, after whitespace and case normalisation
   (``evidence_not_found``);
2. at least one occurrence lies wholly inside the regions the field allows
   (``region_not_allowed``: a quoted reply, a forwarded part, a suspect span);
3. the allowed regions do not hold two different candidates of the field's type that the
   quote fails to single out (``ambiguous``: two order numbers, two addresses, a quote with
   two dates); a person decides those;
4. the value is derivable from the quote (``evidence_mismatch``): emails, ids and strings as
   substrings, numbers parsed, dates parsed relative to the message date;
5. where the field declares cue words, the sentence around the value names it as this
   field's (:mod:`libs.acceptance.context`), and names no second date for it (``ambiguous``);
   a ``sender`` field agrees with the From header's display name.

An enum label with declared cues is grounded by them instead (:mod:`libs.acceptance.labels`).

A passed check carries the value in the source's own spelling: the address as written in
``From``, the name as the customer typed it. A null is refused (``not_grounded``) when the
allowed regions hold a candidate for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import date
from email.utils import parseaddr
from typing import Any

from libs.acceptance.context import cued, rival_date, value_span
from libs.acceptance.dates import quote_dates
from libs.acceptance.fields import FieldRule
from libs.acceptance.labels import label_check
from libs.acceptance.regions import SourceView
from schemas.acceptance import Check, CheckName

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_NUMBER = re.compile(r"[-+]?\d[\d.,' ]{0,30}")
_QUOTE_MARKS = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e \t\n"
_MAX_OCCURRENCES = 50
# A quote is a few words around the value; a paragraph would let any of its words "verify".
MAX_QUOTE_CHARS = 200


def verify(
    record: Mapping[str, Any],
    evidence: Mapping[str, Any],
    source: SourceView,
    rules: Mapping[str, FieldRule],
    message_date: date | None,
) -> list[Check]:
    folded = _Folded(source.text)
    checks = []
    for name, rule in rules.items():
        if name not in record:
            continue
        value = record[name]
        if value is None:
            checks.append(_null(name, rule, source))
        elif rule.kind == "enum" and rule.cues and isinstance(value, str):
            checks.append(label_check(name, value, rule, source))
        elif rule.evidence:
            quote = evidence.get(name)
            checks.append(
                _verify_field(name, value, quote if isinstance(quote, str) else None,
                              rule, source, folded, message_date)
            )
    return checks


def candidates(source: SourceView, rule: FieldRule) -> list[str]:
    """Distinct values of the field's type in its allowed regions, in the source's spelling.

    With ``quote_cues``, an id counts only where its sentence names it so: "order 49915" is
    a candidate order number, "ext. 31245" under a phone number is not.
    """
    seen: dict[str, str] = {}
    for region in source.within(rule.regions):
        for start, found in _candidates_in(region.text, rule):
            if rule.kind == "id" and rule.quote_cues:
                at = region.start + start
                if not cued(source, rule, (at, at + len(found))):
                    continue
            seen.setdefault(found.casefold(), found)
    return list(seen.values())


def _candidates_in(text: str, rule: FieldRule) -> Iterator[tuple[int, str]]:
    if rule.kind == "email":
        for match in _EMAIL.finditer(text):
            address = match.group(0).strip(".")
            if "." in address.split("@", 1)[1]:
                yield match.start(), address
    elif rule.kind == "id" and rule.pattern:
        pattern = re.compile(rule.pattern)
        for match in _TOKEN.finditer(text):
            if pattern.fullmatch(match.group(0)):
                yield match.start(), match.group(0)


def _null(name: str, rule: FieldRule, source: SourceView) -> Check:
    found = candidates(source, rule) if rule.kind in ("email", "id") else []
    if found:
        return Check(
            field=name, check=CheckName.NOT_GROUNDED, ok=False,
            detail=f"left empty, but the source holds {', '.join(found[:3])}",
        )
    return Check(field=name, check=CheckName.VERIFIED, ok=True, detail="empty, no candidate")


def _verify_field(
    name: str,
    value: Any,
    quote: str | None,
    rule: FieldRule,
    source: SourceView,
    folded: _Folded,
    message_date: date | None,
) -> Check:
    cleaned = (quote or "").strip(_QUOTE_MARKS).removesuffix("...").removesuffix("…")
    cleaned = cleaned.strip(_QUOTE_MARKS)
    if not cleaned:
        return _fail(name, CheckName.EVIDENCE_NOT_FOUND, "no quote given for this field", value,
                     quote)
    if len(cleaned) > MAX_QUOTE_CHARS:
        return _fail(name, CheckName.EVIDENCE_MISMATCH,
                     f"the quote is {len(cleaned)} characters; quote at most "
                     f"{MAX_QUOTE_CHARS}, the few words around the value", value, quote)
    spans = list(folded.find(cleaned))
    if not spans:
        return _fail(name, CheckName.EVIDENCE_NOT_FOUND,
                     "the quote does not occur in the source; copy it verbatim", value, quote)
    allowed = [span for span in spans if source.kind_at(*span) <= rule.regions]
    if not allowed:
        kinds = sorted(set().union(*(source.kind_at(*span) for span in spans)) - rule.regions)
        return _fail(name, CheckName.REGION_NOT_ALLOWED,
                     f"the quote is in a {'/'.join(kinds)} part of the source, not the "
                     f"{'/'.join(sorted(rule.regions))} this field may come from",
                     value, quote, spans[0])
    if rule.kind in ("email", "id"):
        rivals = candidates(source, rule)
        if len(rivals) > 1:
            return _fail(name, CheckName.AMBIGUOUS,
                         f"the source holds {len(rivals)} candidates: {', '.join(rivals[:5])}",
                         value, quote, allowed[0])
    last_failure = _mismatch("")
    for span in allowed:
        derived = _derive(value, source.text[span[0]:span[1]], rule, message_date,
                          source.languages)
        if isinstance(derived, Check):
            last_failure = derived
            continue
        found = source.text[span[0]:span[1]]
        sender = _display_name(source) if rule.sender else None
        if sender and not _share_a_word(str(derived), sender):
            last_failure = _mismatch(f"the sender is {sender} (From), not {derived}")
            continue
        if rule.quote_cues and not cued(
            source, rule, value_span(source, span, derived, rule, message_date)
        ):
            last_failure = _mismatch(
                "nothing around the quote says what the value is (a word such as "
                f"{', '.join(rule.quote_cues[:4])})"
            )
            continue
        rival = rival_date(source, rule, span, derived, message_date)
        if rival is not None:
            return _fail(name, CheckName.AMBIGUOUS,
                         f"the same sentence names another date for it: {rival}",
                         value, quote, span)
        return Check(field=name, check=CheckName.VERIFIED, ok=True, detail="verified",
                     value=derived, quote=found, span=span)
    return last_failure.model_copy(
        update={"field": name, "quote": quote, "span": allowed[0], "value": value}
    )


def _derive(
    value: Any,
    quote: str,
    rule: FieldRule,
    message_date: date | None,
    languages: tuple[str, ...],
) -> Any:
    """The value in the quote's own spelling, or a failed :class:`Check` saying why not."""
    if rule.kind == "email":
        for match in _EMAIL.finditer(quote):
            address = match.group(0).strip(".")
            if address.casefold() == str(value).casefold():
                return address
        return _mismatch(f"{value} is not an address in the quote")
    if rule.kind == "id":
        pattern = rf"(?<![A-Za-z0-9]){re.escape(str(value))}(?![A-Za-z0-9])"
        found = re.search(pattern, quote, re.IGNORECASE)
        return found.group(0) if found else _mismatch(f"{value} does not occur in the quote")
    if rule.kind == "number":
        return value if _number_in(value, quote) else _mismatch(f"{value} is not in the quote")
    if rule.kind == "date":
        return _date_in(value, quote, message_date, languages)
    spelled = _Folded(quote).spelling_of(str(value))
    return spelled if spelled is not None else _mismatch(f"{value!r} does not occur in the quote")


def _date_in(
    value: Any, quote: str, message_date: date | None, languages: tuple[str, ...]
) -> Any:
    try:
        wanted = date.fromisoformat(str(value)[:10])
    except ValueError:
        return _mismatch(f"{value} is not a date")
    dates = quote_dates(quote, message_date, languages)
    if wanted in dates.certain and len(dates.certain) == 1:
        return value
    if len(dates.certain) > 1 and wanted in dates.certain:
        return Check(field="", check=CheckName.AMBIGUOUS, ok=False,
                     detail="the quote names several dates: "
                     + ", ".join(sorted(d.isoformat() for d in dates.certain)))
    if wanted in dates.possible:
        return Check(field="", check=CheckName.AMBIGUOUS, ok=False, detail=dates.why)
    if dates.why:
        return _mismatch(dates.why)
    named = ", ".join(sorted(d.isoformat() for d in dates.certain)) or "no exact date"
    return _mismatch(f"the quote gives {named}, not {wanted.isoformat()}")


def _number_in(value: Any, quote: str) -> bool:
    try:
        wanted = float(value)
    except (TypeError, ValueError):
        return False
    for match in _NUMBER.finditer(quote):
        for reading in _number_readings(match.group(0).strip(" .,'")):
            if reading == wanted:
                return True
    return False


def _number_readings(text: str) -> Iterator[float]:
    """1,234.50 and 1.234,50 and 1 234 are all read; the reader does not know the locale."""
    compact = text.replace(" ", "").replace("'", "")
    variants = {compact.replace(",", ""), compact.replace(".", "").replace(",", ".")}
    for variant in variants:
        try:
            yield float(variant)
        except ValueError:
            continue


def _display_name(source: SourceView) -> str:
    return parseaddr(source.header("from") or "")[0].strip()


def _share_a_word(value: str, other: str) -> bool:
    def words(text: str) -> set[str]:
        return {word for word in re.split(r"[\W_]+", text.casefold()) if len(word) > 1}

    return bool(words(value) & words(other))


def _mismatch(detail: str) -> Check:
    return Check(field="", check=CheckName.EVIDENCE_MISMATCH, ok=False, detail=detail)


def _fail(
    name: str, check: CheckName, detail: str, value: Any, quote: str | None,
    span: tuple[int, int] | None = None,
) -> Check:
    return Check(field=name, check=check, ok=False, detail=detail, value=value, quote=quote,
                 span=span)


class _Folded:
    """Text with case folded and whitespace runs collapsed, mapped back to the original."""

    def __init__(self, text: str) -> None:
        self.original = text
        chars: list[str] = []
        origin: list[int] = []
        in_space = False
        for index, char in enumerate(text):
            if char.isspace():
                if not in_space and chars:
                    chars.append(" ")
                    origin.append(index)
                in_space = True
                continue
            in_space = False
            for folded in char.casefold():
                chars.append(folded)
                origin.append(index)
        self.text = "".join(chars)
        self.origin = origin

    def _span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1

    def find(self, needle: str) -> Iterator[tuple[int, int]]:
        """Spans of the original text where ``needle`` occurs, normalised."""
        target = _Folded(needle).text.strip()
        if not target:
            return
        start = self.text.find(target)
        count = 0
        while start >= 0 and count < _MAX_OCCURRENCES:
            yield self._span(start, start + len(target))
            count += 1
            start = self.text.find(target, start + 1)

    def spelling_of(self, value: str) -> str | None:
        """``value`` as this text spells it, at word boundaries; ``None`` if absent."""
        for start, end in self.find(value):
            before = self.original[start - 1] if start else " "
            after = self.original[end] if end < len(self.original) else " "
            if not before.isalnum() and not after.isalnum():
                return " ".join(self.original[start:end].split())
        return None

