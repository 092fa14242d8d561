"""Stable placeholders for one job's personal data: out before the model, back in the record.

A :class:`Redactor` lives for one job. Each value it finds gets a placeholder named by its
type and order of first appearance (``<CARD_1>``, ``<PHONE_2>``; emails get an
email-shaped one, ``email-1@redacted.invalid``, so a decoder that enforces an email format
can still copy it). The same value always gets the same placeholder, in every message and
every attempt, so the model can refer to it and a correction prompt stays coherent. The
mapping is never stored: it is rebuilt from the source, in the same order, when a job is
redelivered.

:meth:`Redactor.redact_messages` is what :func:`libs.llm.chat.chat` applies to every
outgoing message (it also catches values a later message adds, such as an error quoting a
bad value); :meth:`Redactor.restore` puts the real values back into the model's answer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from libs.redaction.detectors import Finding, find, header_names
from schemas.redaction import PIIEntity

Message = dict[str, str]


def placeholder(entity: PIIEntity, number: int) -> str:
    if entity is PIIEntity.EMAIL:
        return f"email-{number}@redacted.invalid"
    return f"<{entity.value.upper()}_{number}>"


class Redactor:
    def __init__(self, entities: frozenset[PIIEntity] | set[PIIEntity]) -> None:
        self.entities = frozenset(entities)
        self._placeholder_of: dict[str, str] = {}  # real value -> placeholder
        self._value_of: dict[str, str] = {}  # placeholder -> real value
        self._numbers: Counter[PIIEntity] = Counter()
        self._names: list[str] = []

    @property
    def placeholders(self) -> list[str]:
        """The placeholders handed out so far (never the values)."""
        return list(self._value_of)

    def redact(self, text: str) -> str:
        """``text`` with every value found (now or before) replaced by its placeholder."""
        if PIIEntity.PERSON in self.entities:
            self._names += [n for n in header_names(text) if n not in self._names]
        for finding in _outermost(find(text, self.entities, self._names)):
            if finding.text not in self._value_of and finding.text not in self._placeholder_of:
                self._numbers[finding.entity] += 1
                mark = placeholder(finding.entity, self._numbers[finding.entity])
                self._placeholder_of[finding.text] = mark
                self._value_of[mark] = finding.text
        return _substitute(text, self._placeholder_of, lambda value: value)

    def redact_messages(self, messages: list[Message]) -> list[Message]:
        return [{**message, "content": self.redact(message["content"])} for message in messages]

    def restore(self, text: str, *, inside_json: bool = False) -> str:
        """The model's ``text`` with each placeholder back to its value; ``inside_json``
        escapes the values for the inside of a JSON string (the raw answer before parsing)."""
        if inside_json:
            return _substitute(text, self._value_of, _json_escaped)
        return _substitute(text, self._value_of, lambda value: value)

    def restore_values(self, data: Any) -> Any:
        """A parsed answer (record, quotes) with each placeholder back to its value."""
        if isinstance(data, str):
            return self.restore(data)
        if isinstance(data, list):
            return [self.restore_values(item) for item in data]
        if isinstance(data, dict):
            return {key: self.restore_values(value) for key, value in data.items()}
        return data

    def restoring(self, sink: Callable[[str], object]) -> StreamRestorer:
        """A token sink that passes ``sink`` the streamed answer with the real values."""
        return StreamRestorer(self, sink)

    def holds_real_values(self, text: str) -> bool:
        """Whether any value this redactor replaces occurs in ``text`` (tests, log checks)."""
        return any(value in text for value in self._placeholder_of)


class StreamRestorer:
    """Restores placeholders in a streamed answer, where one may arrive split over tokens.

    Text that could still be the start of a placeholder (``<CA``, ``email-1@red``) is held
    back until the next token settles it; :meth:`flush` hands on what is left at the end.
    """

    def __init__(self, redactor: Redactor, sink: Callable[[str], object]) -> None:
        self._redactor = redactor
        self._sink = sink
        self._pending = ""

    def __call__(self, token: str) -> None:
        text = self._pending + token
        cut = self._held_from(text)
        ready, self._pending = text[:cut], text[cut:]
        if ready:
            self._sink(self._redactor.restore(ready))

    def flush(self) -> None:
        if self._pending:
            self._sink(self._redactor.restore(self._pending))
            self._pending = ""

    def _held_from(self, text: str) -> int:
        """Where the earliest tail of ``text`` that begins some placeholder starts."""
        marks = self._redactor.placeholders
        longest = max((len(mark) for mark in marks), default=0)
        for start in range(max(0, len(text) - longest), len(text)):
            tail = text[start:]
            if any(mark.startswith(tail) and mark != tail for mark in marks):
                return start
        return len(text)


def _outermost(findings: list[Finding]) -> list[Finding]:
    """Overlapping findings (an email inside a header name line, a card that is also a
    phone number) keep the longest, earliest one."""
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -(f.end - f.start))):
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept


def _substitute(text: str, table: dict[str, str], shown: Any) -> str:
    if not table:
        return text
    # One pass, longest first: a replacement is never itself replaced again.
    pattern = re.compile("|".join(re.escape(key) for key in sorted(table, key=len, reverse=True)))
    return pattern.sub(lambda match: shown(table[match.group(0)]), text)


def _json_escaped(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]
