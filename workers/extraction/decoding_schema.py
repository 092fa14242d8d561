"""A JSON schema a decoder can enforce, derived from the pydantic model.

Pydantic's own schema is for documentation: ``$ref``/``$defs``, titles, defaults, and
whatever regex dialect the author wrote. Decoders are pickier: llama.cpp's grammar compiler
crashes on ``\\d``, OpenAI's strict mode wants every property required and
``additionalProperties: false``. The derived schema is only what the decoder is asked to
enforce; the full pydantic model (with its grounding validators) still validates every
output, so nothing is lost by simplifying here.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

# `acceptance` is the gate's per-field metadata (libs/acceptance/fields.py), not a keyword.
_DROPPED_KEYS = ("title", "default", "examples", "acceptance")
# Patterns written without backslashes, which some grammar compilers mishandle.
_FORMAT_PATTERNS = {
    "email": "^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)+$",
    "date": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
}
# Regex shorthands some grammar compilers do not understand, and what they mean.
_REGEX_CLASSES = {r"\d": "[0-9]", r"\s": "[ \\t\\n\\r]", r"\w": "[A-Za-z0-9_]"}


def decoding_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's schema with references inlined, patterns rewritten, objects closed."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    cleaned: dict[str, Any] = _clean(schema, definitions)
    return cleaned


def _clean(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_clean(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**copy.deepcopy(target), **{k: v for k, v in node.items() if k != "$ref"}}
        return _clean(merged, definitions)
    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):  # field names, not keywords
            cleaned[key] = {name: _clean(item, definitions) for name, item in value.items()}
        elif key not in _DROPPED_KEYS:
            cleaned[key] = _clean(value, definitions)
    if isinstance(cleaned.get("pattern"), str):
        cleaned["pattern"] = portable_pattern(cleaned["pattern"])
    elif cleaned.get("format") in _FORMAT_PATTERNS and cleaned.get("type") == "string":
        # Grammar decoders ignore most formats; a pattern they do enforce.
        cleaned["pattern"] = _FORMAT_PATTERNS[cleaned["format"]]
    if cleaned.get("type") == "object" and "properties" in cleaned:
        cleaned["required"] = list(cleaned["properties"])
        cleaned["additionalProperties"] = False
    return cleaned


# Keywords OpenAI's strict structured outputs refuse (HTTP 400 for the whole request).
_NOT_IN_STRICT = frozenset({"minLength", "maxLength", "minProperties", "maxProperties"})


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without the keywords strict ``json_schema`` mode rejects."""
    stripped: dict[str, Any] = _strip(schema)
    return stripped


def _strip(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: ({k: _strip(v) for k, v in value.items()} if key == "properties" else _strip(value))
        for key, value in node.items()
        if key == "properties" or key not in _NOT_IN_STRICT
    }


def portable_pattern(pattern: str) -> str:
    for shorthand, explicit in _REGEX_CLASSES.items():
        pattern = pattern.replace(shorthand, explicit)
    return pattern


def with_enums_rotated(schema: dict[str, Any], shift: int) -> dict[str, Any]:
    """``schema`` with every enum's values listed ``shift`` places further on. Agreement
    samples are asked this way, so a model that answers by position (the first value, as a
    small model does) gives different answers and cannot agree with itself."""
    rotated: dict[str, Any] = _rotate(copy.deepcopy(schema), shift)
    return rotated


def _rotate(node: Any, shift: int) -> Any:
    if isinstance(node, list):
        return [_rotate(item, shift) for item in node]
    if not isinstance(node, dict):
        return node
    rotated = {key: _rotate(value, shift) for key, value in node.items() if key != "enum"}
    if isinstance(node.get("enum"), list) and node["enum"]:
        values = node["enum"]
        cut = shift % len(values)
        rotated["enum"] = values[cut:] + values[:cut]
    return rotated
