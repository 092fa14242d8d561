"""A form generated from a schema's JSON schema, and the record read back from it.

Every schema gets a usable form without a template of its own: enums become selects,
``format: date`` a date input, ``format: email`` an email input, numbers number inputs,
booleans a yes/no select, nested models a fieldset, lists a list of rows with add and
remove buttons (new rows are cloned from a ``<template>``). Inputs are named by dotted
path (``customer.email``, ``items.0.sku``); :func:`read_record` walks the same schema to
turn the posted pairs back into the nested record, so the two never disagree. Pydantic,
not the form, has the last word: the record is validated by the schema's model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

INDEX_PLACEHOLDER = "__INDEX__"
FORMAT_WIDGETS = {
    "date": "date",
    "date-time": "datetime-local",
    "email": "email",
    "uri": "url",
    "time": "time",
}


@dataclass
class FormField:
    path: str
    name: str
    label: str
    widget: str  # text email date datetime-local url time number select textarea group list
    required: bool
    value: str = ""
    options: list[str] = field(default_factory=list)
    description: str = ""
    error: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[FormField] = field(default_factory=list)
    item_template: FormField | None = None

    @property
    def dom_id(self) -> str:
        return "f-" + self.path.replace(".", "-")


class _Schema:
    """JSON schema nodes with ``$ref`` resolved against the root's ``$defs``."""

    def __init__(self, root: dict[str, Any]) -> None:
        self._defs: dict[str, Any] = root.get("$defs", {})

    def resolve(self, node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The node behind refs and ``anyOf [X, null]``, and whether null is allowed."""
        nullable = False
        while True:
            if "$ref" in node:
                node = {**self._defs[node["$ref"].rsplit("/", 1)[-1]], **_without(node, "$ref")}
                continue
            if "allOf" in node and len(node["allOf"]) == 1:
                node = {**node["allOf"][0], **_without(node, "allOf")}
                continue
            variants = node.get("anyOf") or node.get("oneOf")
            if variants:
                others = [v for v in variants if v.get("type") != "null"]
                nullable = nullable or len(others) < len(variants)
                if len(others) == 1:
                    node = {**others[0], **_without(_without(node, "anyOf"), "oneOf")}
                    continue
                node = {**_without(_without(node, "anyOf"), "oneOf"), "type": "string"}
            return node, nullable


def _without(node: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != key}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        import json

        return json.dumps(value)
    return str(value)


def _child(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def build_form(
    model: type[BaseModel],
    values: Mapping[str, Any] | None,
    errors: Mapping[str, str] | None = None,
) -> list[FormField]:
    """Fields for ``model``, filled from ``values``; ``errors`` maps dotted paths to messages."""
    root = model.model_json_schema()
    schema = _Schema(root)
    node, _ = schema.resolve(root)
    group = _build(schema, node, "", "", True, dict(values or {}), dict(errors or {}))
    return group.children


def _build(
    schema: _Schema,
    node: dict[str, Any],
    path: str,
    name: str,
    required: bool,
    value: Any,
    errors: dict[str, str],
) -> FormField:
    own_title = node.get("title")
    node, nullable = schema.resolve(node)
    label = str(own_title or name.replace("_", " ").capitalize())
    base = FormField(
        path=path,
        name=name,
        label=label,
        widget="text",
        required=required and not nullable,
        description=str(node.get("description") or ""),
        error=errors.get(path),
    )
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        base.widget = "group"
        props: dict[str, Any] = node.get("properties", {})
        needed = set(node.get("required", []))
        current = value if isinstance(value, dict) else {}
        base.children = [
            _build(schema, sub, _child(path, key), key, key in needed, current.get(key), errors)
            for key, sub in props.items()
        ]
        return base
    if kind == "array":
        base.widget = "list"
        items_node = node.get("items", {})
        rows = value if isinstance(value, list) else []
        base.children = [
            _build(schema, items_node, _child(path, index), f"{name} {index + 1}", True, row,
                   errors)
            for index, row in enumerate(rows)
        ]
        base.item_template = _build(
            schema, items_node, _child(path, INDEX_PLACEHOLDER), name, True, None, {}
        )
        return base
    base.value = _text(value if value is not None else None)
    if "enum" in node:
        base.widget = "select"
        base.options = [_text(option) for option in node["enum"]]
    elif "const" in node:
        base.widget = "select"
        base.options = [_text(node["const"])]
    elif kind == "boolean":
        base.widget = "select"
        base.options = ["true", "false"]
    elif kind in ("integer", "number"):
        base.widget = "number"
        base.attrs["step"] = "1" if kind == "integer" else "any"
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if key in node:
                base.attrs[attr] = str(node[key])
    else:
        base.widget = FORMAT_WIDGETS.get(str(node.get("format")), "text")
        if base.widget == "text" and (node.get("maxLength") or 0) > 200:
            base.widget = "textarea"
        if "pattern" in node and base.widget == "text":
            base.attrs["pattern"] = str(node["pattern"]).removeprefix("^").removesuffix("$")
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
            if key in node:
                base.attrs[attr] = str(node[key])
    if base.widget == "datetime-local" and base.value:
        base.value = base.value.replace("Z", "")[:19]
    return base


def read_record(model: type[BaseModel], pairs: Mapping[str, str]) -> dict[str, Any]:
    """The nested record from posted ``path -> text`` pairs; unknown names are ignored."""
    root = model.model_json_schema()
    schema = _Schema(root)
    node, _ = schema.resolve(root)
    value = _read(schema, node, "", dict(pairs))
    return value if isinstance(value, dict) else {}


_MISSING = object()


def _read(schema: _Schema, node: dict[str, Any], path: str, pairs: dict[str, str]) -> Any:
    node, nullable = schema.resolve(node)
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        record: dict[str, Any] = {}
        for key, sub in node.get("properties", {}).items():
            item = _read(schema, sub, _child(path, key), pairs)
            if item is not _MISSING:
                record[key] = item
        if path and nullable and all(v is None or v == [] for v in record.values()):
            return None
        return record
    if kind == "array":
        prefix = f"{path}."
        indices = sorted(
            {
                int(name[len(prefix):].split(".", 1)[0])
                for name in pairs
                if name.startswith(prefix) and name[len(prefix):].split(".", 1)[0].isdigit()
            }
        )
        return [_read(schema, node.get("items", {}), _child(path, i), pairs) for i in indices]
    if path not in pairs:
        return None if nullable else _MISSING
    text = pairs[path].strip()
    if text == "":
        return None if nullable else ""
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    return text
