"""The calendar dates a quote names, absolute or relative to the message date.

``dateparser`` reads "2025-03-02", "2 March", "le 3 mars", "gestern", "last Monday",
"on the 3rd" in the languages the region detector covers. What it cannot know, this module
refuses to guess:

* a month without a day ("February 2025") is read once preferring the first and once the
  last day of the month; a date that differs between the two readings is no date at all;
* a relative period ("last week", "a month ago", "in 2024") resolves to a day, but names
  none: only expressions whose period is a day count ("yesterday", "last Monday");
* a slash date whose day and month could swap ("03/02/2025") is ambiguous (dotted and
  dashed ones are read day first, as Europe writes them);
* a bare day of the month ("le 3", "am 3.") is the last such day on or before the message,
  when nothing else in the text is a date;
* a relative date with no message date to count from is unknowable (read against two far
  apart bases, it moves).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from dateparser.date import DateDataParser
from dateparser.search import search_dates

LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl")
# Frequent short words of each language: enough to tell which one a message is written in,
# so that "hier" is read as "yesterday" only in French and "die" never as a weekday.
_FUNCTION_WORDS_TEXT = {
    "en": "the and is to of my it was you for have not this with on are",
    "de": "der die das und ist ich nicht mit ein eine meine habe sie zu den vom",
    "fr": "le la les et est je pas une des du mon ma vous pour avec que",
    "es": "el la los las y es que no una mi por para con del pedido hola",
    "it": "il lo la gli e che non una mio mia per con del della sono ho",
    "pt": "o a os as e que não uma meu minha para com do da olá foi",
    "nl": "de het een en is ik niet mijn met van voor op dat zijn heb",
}
_FUNCTION_WORDS = {lang: frozenset(words.split()) for lang, words in _FUNCTION_WORDS_TEXT.items()}


def reading_languages(text: str) -> tuple[str, ...]:
    """The language ``text`` is most likely written in, then English (ISO dates and English
    month names appear everywhere); all of them when no word gives a clue."""
    words = re.findall(r"\w+", text.casefold())
    scores = {lang: sum(word in vocabulary for word in words)
              for lang, vocabulary in _FUNCTION_WORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    if scores[best] == 0:
        return LANGUAGES
    return (best,) if best == "en" else (best, "en")
# Far apart, so a relative expression read against each lands on different days.
_PROBE_BASES = (datetime(2001, 6, 15, 12), datetime(2013, 1, 20, 12))
# Only a slash date swaps: dotted and dashed day-first dates are how Europe writes them.
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b")
# "le 3", "am 3.", "on the 3rd": a day of the month with nothing else, which dateparser skips.
_BARE_DAY = re.compile(
    r"(?<!\w)(?:le|am|el|il|em|op|on\s+the|on|the|den|dia|giorno)\s+(\d{1,2})"
    r"(?:st|nd|rd|th|er|e|ème|º|\.)?(?![\w./-]|\s*\d)",
    re.IGNORECASE,
)


_SPAN_WORDS = (
    r"(?:after|for|within|during|nach|für|innerhalb|während|pendant|après|dans|durante"
    r"|después|tras|entro|dopo|per|binnen|gedurende|depois)"
)
_DURATION = re.compile(rf"{_SPAN_WORDS}\b", re.IGNORECASE)
# dateparser leaves the word out of the match: "nach drei Tagen" comes back as "drei Tagen".
_DURATION_BEFORE = re.compile(rf"\b{_SPAN_WORDS}\s+\Z", re.IGNORECASE)


class QuoteDates:
    """The dates a quote names: ``certain`` in every reading, ``possible`` in some."""

    def __init__(self, certain: frozenset[date], possible: frozenset[date], why: str = "") -> None:
        self.certain = certain
        self.possible = possible
        self.why = why


def quote_dates(
    quote: str, message_date: date | None, languages: tuple[str, ...] = LANGUAGES
) -> QuoteDates:
    if message_date is None:
        readings = [_read(quote, base, languages) for base in _PROBE_BASES]
        moved = readings[0] ^ readings[1]
        if moved:
            return QuoteDates(
                readings[0] & readings[1], readings[0] | readings[1],
                "a relative date, and the message has no date to count from",
            )
        certain = readings[0]
    else:
        certain = _read(quote, datetime.combine(message_date, time(12)), languages)
        certain = certain or _bare_days(quote, message_date)
    possible = set(certain)
    why = ""
    for match in _NUMERIC_DATE.finditer(quote):
        first, second = int(match.group(1)), int(match.group(2))
        if first != second and first <= 12 and second <= 12:
            swapped = _swap(match.groups())
            if swapped is not None:
                possible.add(swapped)
                why = f"{match.group(0)} reads as two dates (day and month can swap)"
    if why:
        return QuoteDates(frozenset(), frozenset(possible), why)
    return QuoteDates(frozenset(certain), frozenset(possible))


def dates_named(
    text: str, message_date: date | None, languages: tuple[str, ...] = LANGUAGES
) -> list[tuple[str, date]]:
    """(words, day) of every day-exact date in ``text``: absolute ones always, relative ones
    only against a message date."""
    if message_date is None:
        first, second = (_pairs(text, base, languages) for base in _PROBE_BASES)
        return sorted(first & second, key=lambda pair: text.find(pair[0]))
    base = datetime.combine(message_date, time(12))
    pairs = _pairs(text, base, languages) or set(_bare_day_pairs(text, message_date))
    return sorted(pairs, key=lambda pair: text.find(pair[0]))


def _read(quote: str, base: datetime, languages: tuple[str, ...]) -> frozenset[date]:
    return frozenset(day for _, day in _pairs(quote, base, languages))


def _pairs(quote: str, base: datetime, languages: tuple[str, ...]) -> set[tuple[str, date]]:
    """The day-exact dates in ``quote`` read against ``base``, with the words naming them.

    Each language is read on its own: with all of them at once dateparser may settle on the
    wrong one and read "19. November 2025" as the month "November 2025".
    """
    found: set[tuple[str, date]] = set()
    for language in languages:
        readings = []
        for day_of_month in ("first", "last"):
            settings: dict[str, Any] = {
                "RELATIVE_BASE": base,
                "PREFER_DATES_FROM": "past",
                "DATE_ORDER": "DMY",
                "PREFER_DAY_OF_MONTH": day_of_month,
            }
            matches = search_dates(quote, languages=[language], settings=settings) or []
            readings.append({
                (words, moment.date()) for words, moment in matches
                if _worded(words) and not _BARE_DAY.fullmatch(words.strip())
                and not _DURATION_BEFORE.search(quote[: max(quote.find(words), 0)][-20:])
                and _names_a_day(words, language, settings)
            })
        found |= readings[0] & readings[1]
    return found


def _worded(words: str) -> bool:
    """A date, not a stray short word dateparser takes for a weekday ("die": Dienstag, "and
    we": Wednesday) nor a duration ("after two days", "nach drei Tagen"): it has a digit or a
    word of four letters or more, and does not open with a word that makes it a span."""
    stripped = words.strip()
    if _DURATION.match(stripped):
        return False
    return any(char.isdigit() for char in stripped) or any(
        len(token) >= 4 for token in re.findall(r"\w+", stripped)
    )


def _names_a_day(text: str, language: str, settings: dict[str, Any]) -> bool:
    """"last week", "a month ago", "in 2024" resolve to a day, but do not name one."""
    parser = DateDataParser(
        languages=[language], settings={**settings, "RETURN_TIME_AS_PERIOD": True}
    )
    return bool(parser.get_date_data(text).period == "day")


def _bare_days(quote: str, message_date: date) -> frozenset[date]:
    return frozenset(day for _, day in _bare_day_pairs(quote, message_date))


def _bare_day_pairs(quote: str, message_date: date) -> frozenset[tuple[str, date]]:
    """The last date on or before the message with the day of the month the quote names."""
    found = set()
    for match in _BARE_DAY.finditer(quote):
        day = int(match.group(1))
        year, month = message_date.year, message_date.month
        if day > message_date.day:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        try:
            found.add((match.group(0), date(year, month, day)))
        except ValueError:  # "le 31" in a 30-day month: no such day
            continue
    return frozenset(found)


def _swap(groups: tuple[str | Any, ...]) -> date | None:
    """The month-first reading of a numeric date (the day-first one is dateparser's)."""
    month, day, year = (int(part) for part in groups)
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None
