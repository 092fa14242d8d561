"""Every text path runs in linear time on hostile input (issue 12, item 5).

Each path gets 1.5 MB of a pathological input (runs of ``<``, ``<<<<a``, deeply nested
tags, backticks, spaces, quotes, ``>`` quote markers...) and must finish within a small
multiple of the time it takes on a normal input of the same size, measured in the same
run. CPU time, not wall time, so a busy machine does not fail the test; a quadratic path
takes minutes to hours at this size, so the margin is wide on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from dlq_dashboard.source import sanitize_html, source_view
from libs.extraction.output import parse_output
from libs.text.email_parsing import read_email
from libs.text.email_quoting import strip_quotes_and_signature
from libs.text.html_text import html_to_text
from producers.crawl.links import page_links
from schemas.job import Job

SIZE = 1_500_000
MULTIPLE = 20
FLOOR_S = 1.0  # timer noise, interpreter warm-up, libxml2's own bounded limits


def _repeat(unit: str) -> str:
    return (unit * (SIZE // len(unit) + 1))[:SIZE]


NORMAL_HTML = _repeat("<p>Hello, the kettle from <b>order 55211</b> arrived cracked.</p>\n")
NORMAL_TEXT = _repeat("Hello, the kettle from order 55211 arrived cracked. Refund please.\n")
PATHOLOGICAL = {
    "lt": "<" * SIZE,
    "lt_lt_lt_lt_a": _repeat("<<<<a"),
    "nested_divs": _repeat("<div>"),
    "nested_inline": _repeat("<b><i><a>"),
    "open_comments": _repeat("<!--"),
    "end_tag_starts": _repeat("</"),
    "backticks": "`" * SIZE,
    "fences": _repeat("```json\n"),
    "spaces": " " * SIZE,
    "quotes": '"' * SIZE,
    "backslashes": "\\" * SIZE,
    "commas": "," * SIZE,
    "parentheses": "(" * SIZE,
    "gt": ">" * SIZE,
    "quote_marker_lines": _repeat("> \n"),
    "dashes": "-" * SIZE,
    "attribution_starts": _repeat("On "),
    "brackets": "[" * SIZE,
    "braces": _repeat('{"a":'),
    "encoded_words": _repeat("=?utf-8?q?"),
}


def _email_body(text: str) -> str:
    return read_email("Subject: s\nContent-Type: text/html\n\n" + text).new_text()


def _email_plain(text: str) -> str:
    return read_email("Subject: s\n\n" + text).new_text()


def _email_headers(text: str) -> object:
    content = read_email(
        f"From: {text}\nTo: {text}\nSubject: {text}\nDate: {text}\n"
        f"Content-Type: text/plain; charset={text}\n\nbody"
    )
    return content.addresses("from", "to"), content.subject, content.sent_at, content.text


def _dashboard_view(text: str) -> object:
    return source_view(Job(kind="extract", input={"email": "Subject: s\n"
                                                  "Content-Type: text/html\n\n" + text}))


PATHS: dict[str, tuple[Callable[[str], object], str]] = {
    "html_to_text": (html_to_text, NORMAL_HTML),
    "html_to_text_without_quotes": (lambda t: html_to_text(t, drop_quotes=True), NORMAL_HTML),
    "email_html_body": (_email_body, NORMAL_HTML),
    "email_plain_body": (_email_plain, NORMAL_TEXT),
    "email_headers": (_email_headers, NORMAL_TEXT),
    "email_quoting": (strip_quotes_and_signature, NORMAL_TEXT),
    "model_output": (parse_output, NORMAL_TEXT),
    "dashboard_sanitizer": (sanitize_html, NORMAL_HTML),
    "dashboard_source_view": (_dashboard_view, NORMAL_HTML),
    "crawl_links": (lambda t: page_links(t, "https://shop.example/"), NORMAL_HTML),
}


def _cpu_seconds(path: Callable[[str], object], text: str) -> float:
    started = time.process_time()
    path(text)
    return time.process_time() - started


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(PATHS))
def test_each_text_path_is_linear_on_pathological_input(name: str) -> None:
    path, normal = PATHS[name]
    baseline = _cpu_seconds(path, normal)
    limit = MULTIPLE * baseline + FLOOR_S
    slow = {}
    for kind, text in PATHOLOGICAL.items():
        spent = _cpu_seconds(path, text)
        if spent > limit:
            slow[kind] = round(spent, 2)
    assert not slow, f"{name}: normal input took {baseline:.2f}s, limit {limit:.2f}s: {slow}"
