"""The correction prompt: what a model is told after an output was refused.

Bounded by construction: the system prompt, the document, the LAST invalid output (cut to
:data:`MAX_OUTPUT_CHARS`) and the failing fields (at most :data:`MAX_ERRORS`, each bad
value cut to :data:`MAX_VALUE_CHARS`), with the allowed values or format of each field.
Earlier attempts are on the job's ledger, not in the conversation: attempt 10 costs what
attempt 2 costs.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.attempt import Attempt, AttemptOutcome, FieldError
from workers.extraction.prompts import Message

MAX_OUTPUT_CHARS = 2000
MAX_ERRORS = 12
MAX_VALUE_CHARS = 120


def correction_messages(
    first: list[Message], last: Attempt, schema: dict[str, Any]
) -> list[Message]:
    """The first-attempt messages, the last output, and what was wrong with it."""
    return [
        *first,
        {"role": "assistant", "content": _cut(last.raw_text, MAX_OUTPUT_CHARS) or "(empty)"},
        {"role": "user", "content": correction_text(last, schema)},
    ]


def correction_text(last: Attempt, schema: dict[str, Any]) -> str:
    if last.outcome is AttemptOutcome.TRUNCATED:
        return (
            "Your reply was cut off before the JSON object was complete. Reply again with "
            "the complete JSON object only, as short as possible."
        )
    if last.outcome is AttemptOutcome.PARSE_ERROR:
        return (
            f"Your reply is not a JSON object ({_cut(last.parse_error or '', 200)}). Reply "
            "with one JSON object matching the schema, and nothing else."
        )
    lines = [
        "Your JSON was not accepted. Fix these fields and reply with the whole corrected "
        "JSON object only:"
    ]
    for error in last.errors[:MAX_ERRORS]:
        lines.append(_error_line(error, schema))
    if len(last.errors) > MAX_ERRORS:
        lines.append(f"- and {len(last.errors) - MAX_ERRORS} more errors of the same kinds")
    return "\n".join(lines)


def _error_line(error: FieldError, schema: dict[str, Any]) -> str:
    field = ".".join(str(part) for part in error.loc) or "(the object)"
    value = _cut(json.dumps(error.input, default=str), MAX_VALUE_CHARS)
    line = f"- {field}: {error.msg} [{error.type}]; you gave {value}"
    rule = allowed(schema, error.loc)
    return f"{line}; {rule}" if rule else line


def allowed(schema: dict[str, Any], loc: list[str | int]) -> str:
    """What the schema allows at ``loc``: enum values, pattern, format, length bounds."""
    node: Any = schema
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node, dict) and isinstance(part, int) and "items" in node:
            node = node["items"]
        else:
            return ""
    if not isinstance(node, dict):
        return ""
    rules = []
    if "enum" in node:
        rules.append("allowed values: " + ", ".join(json.dumps(v) for v in node["enum"]))
    if "pattern" in node:
        rules.append(f"must match {node['pattern']}")
    if "format" in node:
        rules.append(f"format: {node['format']}")
    if "minLength" in node:
        rules.append(f"at least {node['minLength']} characters")
    if "maxLength" in node:
        rules.append(f"at most {node['maxLength']} characters")
    if description := node.get("description"):
        rules.append(f"meaning: {description}")
    return "; ".join(rules)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
