"""The one parser of model output, shared by the extraction worker and the dashboard."""

from __future__ import annotations

import pytest

from libs.extraction.output import (
    MAX_RAW_OUTPUT_CHARS,
    bounded_raw_output,
    parse_object,
    parse_output,
    strip_fence,
)


def test_output_is_parsed_through_a_markdown_fence_and_prose() -> None:
    assert parse_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_object('Here you go: {"a": 1} hope it helps') == {"a": 1}
    with pytest.raises(ValueError):
        parse_object("[1, 2]")


@pytest.mark.parametrize(
    ("raw", "inner"),
    [
        ('```json\n{"a": 1}\n```', '{"a": 1}'),
        ('  ```JSON {"a": 1}```  ', '{"a": 1}'),
        ('```\n{"a": 1}\n```', '{"a": 1}'),
        ('{"a": "```"}', '{"a": "```"}'),
        ("no fence", "no fence"),
        ("```", ""),
    ],
)
def test_a_fence_and_its_language_tag_are_stripped(raw: str, inner: str) -> None:
    assert strip_fence(raw) == inner


def test_the_dashboard_reading_agrees_with_the_worker() -> None:
    assert parse_output('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_output('Sure! {"a": 1}') == {"a": 1}  # the worker judged this one too
    for nothing in (None, "", "[1]", "not json", "```json\n[1]\n```"):
        assert parse_output(nothing) is None


def test_json_nested_too_deep_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_object("[" * 200_000)
    assert parse_output('{"a":' * 200_000) is None


def test_the_raw_output_kept_per_attempt_is_bounded() -> None:
    assert bounded_raw_output("short") == "short"
    long = "x" * (MAX_RAW_OUTPUT_CHARS + 10)
    kept = bounded_raw_output(long)
    assert kept.startswith("x" * MAX_RAW_OUTPUT_CHARS)
    assert kept.endswith("[... 10 more characters not kept]")
    assert len(kept) < MAX_RAW_OUTPUT_CHARS + 100
