"""What the gate asks of each field, declared on the pydantic model itself.

A schema author writes ``Field(json_schema_extra=acceptance(regions={"author"}, agree=5))``;
a model without any metadata gets the defaults, so a user's own schema is gated too:

* ``kind`` from the field's type: ``email`` (EmailStr / ``format: email``), ``date``,
  ``number``, ``enum`` (Literal, Enum, bool), ``id`` (a string with a pattern), ``free_text``
  (lists, objects, and strings named like prose: summary, description, notes...), else
  ``string``;
* ``evidence``: a verbatim quote is required for string, id, email, date and number fields;
  no quote can settle a label or a summary, so enums and free text are agreed on instead;
* ``regions``: the author's own text and the headers; for dates only the author's text,
  because the one date in the headers is the message's own date, never a fact it reports;
* ``agree``: 3 independent samples for enums and free text, 1 (no sampling) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from schemas.acceptance import (
    FIELD_KINDS,
    FieldKind,
    InvalidAcceptanceMetadata,
    RegionKind,
    acceptance,
    check_acceptance,
)

DEFAULT_REGIONS = frozenset({RegionKind.AUTHOR, RegionKind.HEADER})
DATE_REGIONS = frozenset({RegionKind.AUTHOR})
DEFAULT_AGREEMENT = 3
__all__ = ["FIELD_KINDS", "FieldRule", "InvalidAcceptanceMetadata", "acceptance", "field_rules"]
_EVIDENCE_KINDS = frozenset(("string", "id", "email", "date", "number"))
_PROSE_NAMES = ("summary", "description", "notes", "note", "comment", "explanation",
                "details", "message", "body", "reason", "text")


@dataclass(frozen=True)
class FieldRule:
    evidence: bool
    regions: frozenset[RegionKind]
    agree: int
    kind: FieldKind
    # For ``id`` fields: the pattern a candidate must match (how ambiguity is counted).
    pattern: str | None = None
    # The field may be null: a null is checked for candidates the model left out.
    nullable: bool = False
    # For enum fields: words that ground each label in the source, and the catch-all label.
    cues: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fallback: str | None = None
    # Per label, words that rule the catch-all label out when the sender writes them.
    strong_cues: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Words of which the field's quote must hold one (what says the value is this field's).
    quote_cues: tuple[str, ...] = ()
    # Words that make such a value something else ("arrived": a delivery date); the cue
    # nearer to the value decides.
    counter_cues: tuple[str, ...] = ()
    # The value names the sender: it must agree with the From header's display name.
    sender: bool = False

    def cues_of(self, label: str) -> tuple[str, ...]:
        return next((words for name, words in self.cues if name == label), ())


def field_rules(model: type[BaseModel]) -> dict[str, FieldRule]:
    schema = model.model_json_schema(by_alias=False)
    definitions = schema.get("$defs", {})
    properties = schema.get("properties", {})
    rules = {}
    for name, info in model.model_fields.items():
        node, nullable = _resolve(properties.get(name, {}), definitions)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        spec: Any = extra.get("acceptance") or {}
        if not isinstance(spec, dict):
            raise InvalidAcceptanceMetadata(f"{model.__name__}.{name}: acceptance must be a dict")
        check_acceptance(spec, f"{model.__name__}.{name}")
        kind: FieldKind = spec.get("kind") or _kind(name, node)
        rules[name] = FieldRule(
            evidence=bool(spec.get("evidence", kind in _EVIDENCE_KINDS)),
            regions=frozenset(RegionKind(r) for r in spec["regions"])
            if "regions" in spec
            else (DATE_REGIONS if kind == "date" else DEFAULT_REGIONS),
            agree=int(spec.get("agree", DEFAULT_AGREEMENT if kind in ("enum", "free_text") else 1)),
            kind=kind,
            pattern=node.get("pattern") if isinstance(node.get("pattern"), str) else None,
            nullable=nullable,
            cues=tuple(
                (str(label), tuple(words)) for label, words in (spec.get("cues") or {}).items()
            ),
            fallback=spec.get("fallback"),
            strong_cues=tuple(
                (str(label), tuple(words))
                for label, words in (spec.get("strong_cues") or {}).items()
            ),
            quote_cues=tuple(spec.get("quote_cues") or ()),
            counter_cues=tuple(spec.get("counter_cues") or ()),
            sender=bool(spec.get("sender", False)),
        )
    return rules


def _resolve(node: dict[str, Any], definitions: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The field's own schema node, through ``$ref`` and ``Optional``'s ``anyOf``."""
    nullable = False
    for _ in range(8):  # bounded: a schema is not trusted to be acyclic
        if "$ref" in node:
            node = {**definitions.get(node["$ref"].rsplit("/", 1)[-1], {}),
                    **{k: v for k, v in node.items() if k != "$ref"}}
            continue
        branches = node.get("anyOf")
        if isinstance(branches, list):
            kept = [b for b in branches if b.get("type") != "null"]
            nullable = nullable or len(kept) < len(branches)
            if len(kept) == 1:
                node = {**kept[0], **{k: v for k, v in node.items() if k != "anyOf"}}
                continue
        break
    return node, nullable


def _kind(name: str, node: dict[str, Any]) -> FieldKind:
    kind = node.get("type")
    if "enum" in node or "const" in node or kind == "boolean":
        return "enum"
    if node.get("format") == "email":
        return "email"
    if node.get("format") in ("date", "date-time"):
        return "date"
    if kind in ("integer", "number"):
        return "number"
    if kind in ("array", "object") or "anyOf" in node:
        return "free_text"
    if kind == "string" and node.get("pattern"):
        return "id"
    long_text = int(node.get("maxLength") or 0) > 200
    if long_text or any(part in _PROSE_NAMES for part in name.lower().split("_")):
        return "free_text"
    return "string"
