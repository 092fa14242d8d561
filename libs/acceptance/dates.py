"""The calendar dates a quote names, absolute or relative to the message date.

``dateparser`` reads "2025-03-02", "2 March", "le 3 mars", "gestern", "last Monday",
"on the 3rd" in the languages the region detector covers. What it cannot know, this module
refuses to guess:

* a month without a day ("February 2025") is read once preferring the first and once the
  last day of the month; a date that differs between the two readings is no date at all;
* a relative period ("last week", "a month ago", "in 2024") resolves to a day, but names
  none: only expressions whose period is a day count ("yesterday", "last Monday");
* a numeric date whose day and month could swap ("03/02/2025") is ambiguous;
* a relative date with no message date to count from is unknowable (read against two far
  apart bases, it moves).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from dateparser.date import DateDataParser
from dateparser.search import search_dates

LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "nl"]
# Far apart, so a relative expression read against each lands on different days.
_PROBE_BASES = (datetime(2001, 6, 15, 12), datetime(2013, 1, 20, 12))
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[./-](\d{1,2})[./-](\d{2,4})\b")


class QuoteDates:
    """The dates a quote names: ``certain`` in every reading, ``possible`` in some."""

    def __init__(self, certain: frozenset[date], possible: frozenset[date], why: str = "") -> None:
        self.certain = certain
        self.possible = possible
        self.why = why


def quote_dates(quote: str, message_date: date | None) -> QuoteDates:
    if message_date is None:
        readings = [_read(quote, base) for base in _PROBE_BASES]
        moved = readings[0] ^ readings[1]
        if moved:
            return QuoteDates(
                readings[0] & readings[1], readings[0] | readings[1],
                "a relative date, and the message has no date to count from",
            )
        certain = readings[0]
    else:
        certain = _read(quote, datetime.combine(message_date, time(12)))
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


def _read(quote: str, base: datetime) -> frozenset[date]:
    """The day-exact dates in ``quote``, read against ``base``."""
    readings = []
    for day_of_month in ("first", "last"):
        settings: dict[str, Any] = {
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "past",
            "DATE_ORDER": "DMY",
            "PREFER_DAY_OF_MONTH": day_of_month,
        }
        found = search_dates(quote, languages=LANGUAGES, settings=settings) or []
        readings.append({moment.date() for text, moment in found if _names_a_day(text, settings)})
    return frozenset(readings[0] & readings[1])


def _names_a_day(text: str, settings: dict[str, Any]) -> bool:
    """"last week", "a month ago", "in 2024" resolve to a day, but do not name one."""
    parser = DateDataParser(
        languages=LANGUAGES, settings={**settings, "RETURN_TIME_AS_PERIOD": True}
    )
    return bool(parser.get_date_data(text).period == "day")


def _swap(groups: tuple[str | Any, ...]) -> date | None:
    """The month-first reading of a numeric date (the day-first one is dateparser's)."""
    month, day, year = (int(part) for part in groups)
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None
