"""What the words around a value say it is: the cue nearest to it, the sentence it sits in.

A quote can be verbatim, in the customer's own words, and still be the wrong value: "my order
arrived yesterday" holds a date, but it dates the delivery. A field that declares cue words
(:func:`schemas.acceptance.acceptance`'s ``quote_cues`` and ``counter_cues``) is read in the
sentence around its value: the cue nearest to the value decides whose value it is, and a
noun, its number and a linking word right before the value ("order 52904 from", "Bestellung
41763 vom") bind it whatever follows. Every pattern is bounded to one sentence.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from libs.acceptance.dates import dates_named
from libs.acceptance.fields import FieldRule
from libs.acceptance.labels import cue_pattern
from libs.acceptance.regions import SourceView

CONTEXT_CHARS = 160
# "order 52904 from", "Bestellung 41763 vom", "pedido 25147 del": a noun, its number and a
# linking word right before the value bind the value to the noun, whatever follows it.
_PREPOSITION = (
    r"(?:from|of|dated|on|placed\s+on|vom|von|am|du|le|de|del|el|dal|della|dell'|il|da|do|em"
    r"|van|op)"
)
_ATTACHED = re.compile(
    r"\w+\s+(?:(?:#|nr\.?|no\.?|n[º°]\.?)\s*)?[\w-]*\d[\w-]*\s*,?\s*"
    rf"(?:{_PREPOSITION}\s+)?\Z|\w+\s+{_PREPOSITION}\s+\Z",
    re.IGNORECASE,
)
_LEADING_PREPOSITION = re.compile(
    rf"^\s*(?:(?:on|at|am|le|el|il|em|op|the)\s+)?(?:{_PREPOSITION}\s+)?", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n[ \t]*\n")


def cued(source: SourceView, rule: FieldRule, span: tuple[int, int]) -> bool:
    """Whether the sentence around ``span`` names the value as this field's: the cue word
    nearest to it is one of ``quote_cues``, not one of ``counter_cues``. "My order 52904
    from 11 October" dates the order; "my order arrived yesterday" dates the delivery."""
    return claim(source, rule, span) == "cue"


def claim(source: SourceView, rule: FieldRule, span: tuple[int, int]) -> str | None:
    """``"cue"`` or ``"counter"``: which kind of cue word speaks for the value at ``span``
    (the nearer one, or one binding it as "order 52904 from"); ``None`` when none does."""
    start, end = sentence_around(source, span)

    def nearest(words: tuple[str, ...]) -> int | None:
        distances = [
            max(0, match.start() - span[1], span[0] - match.end())
            for match in cue_pattern(words).finditer(source.text, start, end)
        ] if words else []
        return min(distances, default=None)

    attached = _ATTACHED.search(source.text, start, span[0]) if rule.quote_cues else None
    if attached is not None and cue_pattern(rule.quote_cues).match(attached.group(0)):
        return "cue"
    cue, counter = nearest(rule.quote_cues), nearest(rule.counter_cues)
    if cue is not None and (counter is None or cue < counter):
        return "cue"
    return "counter" if counter is not None else None


def value_span(
    source: SourceView,
    span: tuple[int, int],
    value: Any,
    rule: FieldRule,
    message_date: date | None,
) -> tuple[int, int]:
    """Where in the quote the value itself stands: cue words are measured from there, so
    "order 48213 arrived yesterday" puts "arrived", not "order", next to the date."""
    quote = source.text[span[0] : span[1]]
    words = str(value)
    if rule.kind == "date":
        named = [w for w, day in dates_named(quote, message_date, source.languages)
                 if day.isoformat() == words[:10]]
        # dateparser's words may start with the preposition ("on 2 March"), which is what
        # binds the date to the noun before it.
        words = _LEADING_PREPOSITION.sub("", named[0]) if named else ""
    at = quote.casefold().find(words.casefold()) if words else -1
    return (span[0] + at, span[0] + at + len(words)) if at >= 0 else span


def rival_date(
    source: SourceView,
    rule: FieldRule,
    span: tuple[int, int],
    value: Any,
    message_date: date | None,
) -> str | None:
    """Another date in the field's allowed regions that could be this field's: "on 3
    November, or maybe on 4 November", or "I ordered on 2 March. No, it was 3 March." With
    cue words, a date they name as something else ("arrived yesterday") is no rival."""
    if rule.kind != "date":
        return None
    for region in source.within(rule.regions):
        for words, day in dates_named(region.text, message_date, source.languages):
            if day.isoformat() == str(value)[:10]:
                continue
            at = region.start + region.text.find(words)
            if not rule.quote_cues or claim(source, rule, (at, at + len(words))) != "counter":
                return f"{words.strip()} ({day.isoformat()})"
    return None


def sentence_around(source: SourceView, span: tuple[int, int]) -> tuple[int, int]:
    """The sentence holding ``span`` (at most :data:`CONTEXT_CHARS` either side), inside the
    regions it lies in: a cue in a quoted line does not speak for the author's sentence."""
    text = source.text
    inside = [r for r in source.regions if r.start < span[1] and span[0] < r.end]
    low = max([span[0] - CONTEXT_CHARS, *(r.start for r in inside[:1])])
    high = min([span[1] + CONTEXT_CHARS, *(r.end for r in inside[-1:])])
    before = [m.end() for m in _SENTENCE_END.finditer(text, low, span[0])]
    after = _SENTENCE_END.search(text, span[1], high)
    return (before[-1] if before else low), (after.start() + 1 if after else high)
