"""html_to_text and its tag stripper: visible text, no scripts, robust to broken markup."""

from __future__ import annotations

from libs.text.html_text import html_to_text, strip_tags


def test_the_stripper_keeps_visible_text_and_breaks_lines_at_blocks() -> None:
    text = strip_tags(
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<p>Hi &amp; <b>there</b></p><script>x()</script>after<!-- note -->tail"
        "<ul><li>one</li><li>two</li></ul></body></html>"
    )
    assert text == "Hi & there\naftertail\none\ntwo"


def test_dropped_tags_lose_their_text_but_not_what_follows() -> None:
    text = strip_tags("<p>new</p><blockquote>old <b>reply</b></blockquote>end",
                      drop=frozenset({"blockquote"}))
    assert text == "new\nend"


def test_empty_odd_and_declared_encodings_do_not_fail() -> None:
    assert strip_tags("") == "" and strip_tags("   ") == ""
    assert strip_tags("plain text, no tags") == "plain text, no tags"
    assert strip_tags('<?xml version="1.0" encoding="latin-1"?><p>café</p>') == "café"
    assert strip_tags("a < b and <<<< c") == "a < b and <<<< c"


def test_short_markup_falls_back_to_the_stripper() -> None:
    assert html_to_text("<p>Refund order <b>55211</b></p>") == "Refund order 55211"
    assert html_to_text("<p>new</p><blockquote>old</blockquote>", drop_quotes=True) == "new"
