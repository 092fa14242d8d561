"""Model output to a JSON object: the one parser the extraction worker and the dashboard use.

Models wrap their JSON in a Markdown fence (```json ... ```) or in a sentence of prose;
both are tolerated, anything else is a parse error. The output is untrusted text, so the
parser is a linear scan: no regular expression, and JSON nested too deep for the decoder is
an ordinary :class:`ValueError`, not a ``RecursionError``.

The raw text an attempt keeps in the job record is cut at :data:`MAX_RAW_OUTPUT_CHARS` by
:func:`bounded_raw_output`; the verdict is always taken on the whole output.
"""

from __future__ import annotations

import json
from typing import Any

FENCE = "```"
# 64k characters is about 16k tokens, well past any completion the extraction budget
# allows; a longer output is a runaway generation, and every store write copies it.
MAX_RAW_OUTPUT_CHARS = 64_000


def strip_fence(text: str) -> str:
    """``text`` without a surrounding Markdown code fence and its language tag."""
    candidate = text.strip()
    if candidate.startswith(FENCE):
        start = len(FENCE)
        while start < len(candidate) and candidate[start].isascii() and candidate[start].isalpha():
            start += 1
        candidate = candidate[start:]
    if candidate.endswith(FENCE):
        candidate = candidate[: -len(FENCE)]
    return candidate.strip()


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def parse_object(text: str) -> dict[str, Any]:
    """The JSON object in ``text``; tolerates a Markdown fence and prose around the object.

    Raises :class:`ValueError` (``json.JSONDecodeError`` included) when there is none.
    """
    candidate = strip_fence(text)
    try:
        value = _loads(candidate)
    except ValueError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start < 0 or end <= start:
            raise
        value = _loads(candidate[start : end + 1])
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def parse_output(raw: str | None) -> dict[str, Any] | None:
    """:func:`parse_object`, or None when the output holds no JSON object."""
    if not raw:
        return None
    try:
        return parse_object(raw)
    except ValueError:
        return None


def bounded_raw_output(text: str) -> str:
    """``text`` as an attempt keeps it: at most :data:`MAX_RAW_OUTPUT_CHARS` plus a marker."""
    if len(text) <= MAX_RAW_OUTPUT_CHARS:
        return text
    cut = len(text) - MAX_RAW_OUTPUT_CHARS
    return f"{text[:MAX_RAW_OUTPUT_CHARS]}\n[... {cut} more characters not kept]"
