"""Dates in a quote, absolute or relative to the message date, in seven languages."""

from __future__ import annotations

from datetime import date

import pytest

from libs.acceptance.dates import quote_dates

MONDAY = date(2025, 3, 10)  # the message date of these cases


@pytest.mark.parametrize(("quote", "expected"), [
    ("placed on 2025-03-02", date(2025, 3, 2)),
    ("ordered on March 2nd", date(2025, 3, 2)),
    ("the 2nd of March", date(2025, 3, 2)),
    ("ordered 14/02/2025", date(2025, 2, 14)),
    ("yesterday", date(2025, 3, 9)),
    ("I ordered it last Monday", date(2025, 3, 3)),
    ("on the 3rd", date(2025, 3, 3)),
    ("3 days ago", date(2025, 3, 7)),
    ("bestellt am 2. März", date(2025, 3, 2)),
    ("gestern", date(2025, 3, 9)),
    ("vorgestern bestellt", date(2025, 3, 8)),
    ("commandé le 2 mars 2025", date(2025, 3, 2)),
    ("hier", date(2025, 3, 9)),
    ("pedido el 2 de marzo", date(2025, 3, 2)),
    ("ayer", date(2025, 3, 9)),
    ("ordinato il 2 marzo", date(2025, 3, 2)),
    ("ieri", date(2025, 3, 9)),
    ("encomendado em 2 de março", date(2025, 3, 2)),
    ("ontem", date(2025, 3, 9)),
    ("besteld op 2 maart", date(2025, 3, 2)),
    ("gisteren", date(2025, 3, 9)),
    ("vom 19. Februar 2025", date(2025, 2, 19)),
    ("Bestellung vom 03.02.2025", date(2025, 2, 3)),
    ("j'ai passé la commande le 3 et", date(2025, 3, 3)),
    ("am 12. bestellt", date(2025, 2, 12)),
])
def test_a_quote_names_its_date(quote: str, expected: date) -> None:
    assert quote_dates(quote, MONDAY).certain == {expected}


@pytest.mark.parametrize("quote", [
    "in February 2025", "31 February 2025", "2025-02-31", "order 48213", "Maria Lopez",
    "ordered last week", "2 weeks ago", "a month ago", "vor einer Woche", "in 2024", "now",
])
def test_no_day_exact_date_is_invented(quote: str) -> None:
    assert quote_dates(quote, MONDAY).certain == frozenset()


def test_a_numeric_date_whose_day_and_month_can_swap_is_ambiguous() -> None:
    found = quote_dates("ordered 03/02/2025", MONDAY)
    assert found.certain == frozenset()
    assert found.possible == {date(2025, 2, 3), date(2025, 3, 2)}
    assert "swap" in found.why


def test_a_relative_date_without_a_message_date_is_unknowable() -> None:
    found = quote_dates("yesterday", None)
    assert found.certain == frozenset()
    assert "no date to count from" in found.why


def test_an_absolute_date_needs_no_message_date() -> None:
    assert quote_dates("on 2025-03-02", None).certain == {date(2025, 3, 2)}


def test_two_dates_in_one_quote_are_both_named() -> None:
    found = quote_dates("ordered 2025-03-02, delivered 2025-03-05", MONDAY)
    assert found.certain == {date(2025, 3, 2), date(2025, 3, 5)}


@pytest.mark.parametrize("text", [
    "it stopped working after two days", "nach drei Tagen kaputt", "and we took it", "die ist",
])
def test_durations_and_stray_short_words_are_no_dates(text: str) -> None:
    assert quote_dates(text, MONDAY).certain == frozenset()
