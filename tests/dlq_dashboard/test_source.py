"""The sanitizer leaves nothing in an email that could run or fetch."""

from __future__ import annotations

import pytest

from dlq_dashboard.source import sanitize_html, source_view


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="/beacon-img">',
        '<img src="https://tracker.example/p.gif" srcset="https://tracker.example/2x.gif 2x">',
        '<img src="//tracker.example/p.gif">',
        "<img src=\"javascript:alert('x')\">",
    ],
)
def test_an_image_that_could_fetch_loses_its_source(markup: str) -> None:
    cleaned = sanitize_html(markup)
    assert "src" not in cleaned
    assert "tracker" not in cleaned and "beacon" not in cleaned


def test_scripts_handlers_and_frames_are_removed_and_the_text_stays() -> None:
    cleaned = sanitize_html(
        "<p>Refund order 55211</p><script>alert(1)</script>"
        '<img onerror="alert(2)"><svg onload="alert(3)"></svg><iframe src="/f"></iframe>'
        "<a href=\"javascript:alert(4)\">x</a>"
    )
    assert "<p>Refund order 55211</p>" in cleaned
    for forbidden in ("script", "onerror", "onload", "iframe", "javascript:"):
        assert forbidden not in cleaned


def test_a_link_keeps_its_web_address_and_cannot_reach_back() -> None:
    cleaned = sanitize_html('<a href="https://shop.example/orders/55211">order</a>')
    assert 'href="https://shop.example/orders/55211"' in cleaned
    assert "noopener" in cleaned and "noreferrer" in cleaned


def test_an_email_in_any_charset_renders_with_replacement_characters() -> None:
    from schemas.job import Job

    raw = (
        "From: a@example.com\nSubject: hi\nContent-Type: text/html; charset=x-bogus\n"
        "Content-Transfer-Encoding: base64\n\n" + "PHA+b3JkZXIgNTUyMTEg/zwvcD4=\n"
    )  # "<p>order 55211 \xff</p>": \xff is no UTF-8
    view = source_view(Job(kind="extract", input={"email": raw}))
    assert view.kind == "email" and view.subject == "hi"
    assert "order 55211 \ufffd" in view.document
