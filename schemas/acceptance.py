"""What the acceptance gate found: the regions of a source, the checks per field, the verdict.

A contract between the extraction worker (which writes ``Job.acceptance``), the API's
dead-letter items and the review dashboard (which highlights regions and evidence quotes by
their offsets into ``source``, the one normalised text the gate read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class RegionKind(StrEnum):
    HEADER = "header"  # From, Subject, Date as rendered at the top of the source view
    AUTHOR = "author"  # the sender's own words
    QUOTED = "quoted"  # a quoted reply: `>` lines, or everything after "On ... wrote:"
    FORWARDED = "forwarded"  # a forwarded message
    SUSPECT = "suspect"  # text addressed to a model: role markers, injections, output-shaped JSON
    SIGNATURE = "signature"  # after a `-- ` delimiter or a mobile sign-off
    # The text of a file attached to the message (PDF, DOCX, text), after its body. Not a
    # default region of any field: a schema that trusts attachments says so per field.
    ATTACHMENT = "attachment"


FieldKind = Literal["string", "id", "email", "date", "number", "enum", "free_text"]
FIELD_KINDS: frozenset[str] = frozenset(
    ("string", "id", "email", "date", "number", "enum", "free_text")
)


class CheckName(StrEnum):
    EVIDENCE_NOT_FOUND = "evidence_not_found"
    EVIDENCE_MISMATCH = "evidence_mismatch"
    REGION_NOT_ALLOWED = "region_not_allowed"
    AMBIGUOUS = "ambiguous"
    DISAGREEMENT = "disagreement"
    NOT_GROUNDED = "not_grounded"
    VERIFIED = "verified"  # a passed check (``ok`` is true)


class Region(BaseModel):
    """``text == source[start:end]`` of the source view the regions were split from."""

    kind: RegionKind
    start: int
    end: int
    text: str


class Check(BaseModel):
    field: str
    check: str
    ok: bool
    detail: str
    # The value the check is about; for a passed evidence check, the source's own spelling.
    value: Any = None
    quote: str | None = None
    # Where the quote was found in the source view.
    span: tuple[int, int] | None = None


class AcceptanceVerdict(BaseModel):
    accepted: bool
    # The accepted record (values in the source's spelling), or the best candidate if refused.
    record: dict[str, Any] | None = None
    checks: list[Check] = Field(default_factory=list)
    regions: list[Region] = Field(default_factory=list)
    evidence: dict[str, str] = Field(default_factory=dict)
    # The source view the regions and spans index into.
    source: str = ""

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class InvalidAcceptanceMetadata(ValueError):
    """A field's ``acceptance`` metadata names an unknown region or kind, or a bad k."""


def acceptance(
    *,
    evidence: bool | None = None,
    regions: Iterable[str] | None = None,
    agree: int | None = None,
    kind: FieldKind | None = None,
    cues: Mapping[str, Iterable[str]] | None = None,
    fallback: str | None = None,
    strong_cues: Mapping[str, Iterable[str]] | None = None,
    quote_cues: Iterable[str] | None = None,
    counter_cues: Iterable[str] | None = None,
    sender: bool | None = None,
) -> dict[str, Any]:
    """The ``json_schema_extra`` of a field: only what is given overrides the defaults.

    ``cues`` ground an enum label in the source: for each label, words (or word beginnings)
    of which at least one must occur in the field's allowed regions for the label to be
    accepted. ``fallback`` is a catch-all label that needs no cue, but is refused when one of
    another label's ``strong_cues`` occurs. All optional; without them a label is settled
    by agreement alone.
    ``quote_cues`` are words one of which must stand in the sentence around the quoted value,
    nearer to it than any of the ``counter_cues``, so the source says what the value is:
    "ordered on 2 March" dates the order, "arrived yesterday" the delivery.
    ``sender``: the value names the sender, so when the ``From`` header carries a display
    name the value must share a word with it (not the husband named in the text).
    """
    spec: dict[str, Any] = {}
    if evidence is not None:
        spec["evidence"] = evidence
    if regions is not None:
        spec["regions"] = sorted(str(RegionKind(region)) for region in regions)
    if agree is not None:
        spec["agree"] = agree
    if kind is not None:
        spec["kind"] = kind
    if cues is not None:
        spec["cues"] = {str(label): [str(cue) for cue in words] for label, words in cues.items()}
    if fallback is not None:
        spec["fallback"] = fallback
    if strong_cues is not None:
        spec["strong_cues"] = {
            str(label): [str(cue) for cue in words] for label, words in strong_cues.items()
        }
    if quote_cues is not None:
        spec["quote_cues"] = [str(cue) for cue in quote_cues]
    if counter_cues is not None:
        spec["counter_cues"] = [str(cue) for cue in counter_cues]
    if sender is not None:
        spec["sender"] = sender
    check_acceptance(spec, "(acceptance)")
    return {"acceptance": spec}


def check_acceptance(spec: dict[str, Any], where: str) -> None:
    if "kind" in spec and spec["kind"] not in FIELD_KINDS:
        raise InvalidAcceptanceMetadata(f"{where}: unknown kind {spec['kind']!r}")
    if "agree" in spec and (not isinstance(spec["agree"], int) or spec["agree"] < 1):
        raise InvalidAcceptanceMetadata(f"{where}: agree must be an integer >= 1")
    for region in spec.get("regions", ()):
        if region not in RegionKind.__members__.values():
            raise InvalidAcceptanceMetadata(f"{where}: unknown region {region!r}")
    for key in ("cues", "strong_cues"):
        cues = spec.get(key, {})
        if not isinstance(cues, dict) or not all(
            isinstance(words, list) and all(isinstance(w, str) and w.strip() for w in words)
            for words in cues.values()
        ):
            raise InvalidAcceptanceMetadata(f"{where}: {key} must map labels to lists of words")
    for key in ("quote_cues", "counter_cues"):
        words = spec.get(key, [])
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise InvalidAcceptanceMetadata(f"{where}: {key} must be a list of words")
