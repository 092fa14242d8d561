"""The regions of a source document: whose words each part is, and what is addressed to a model.

A value is only as trustworthy as the text it came from. The customer's own words and the
mail headers say who wrote and when; a quoted reply holds last week's order number; a
forwarded part is someone else's message; a suspect span is text written for a model
("SYSTEM:", "ignore previous instructions", a JSON object shaped like the output). The gate
grounds each field only in the regions its field allows (see :mod:`libs.acceptance.fields`).

Everything indexes into one string, the *source view*: the headers rendered as ``From: ...``,
``Subject: ...``, ``Date: ...`` lines, a blank line, then the body with its line endings
normalised. The model reads exactly this text, so its quotes can be found in it, and the
dashboard highlights regions and quotes by offset into it.

Every pattern here runs on untrusted text: each is anchored to a line or has bounded gaps,
with no nested quantifiers, so splitting is linear in the length of the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from libs.acceptance.dates import reading_languages
from schemas.acceptance import Region, RegionKind

SourceKind = Literal["email", "text"]
# Headers worth grounding in, in the order they are rendered. `To` is left out on purpose:
# it names the support desk, whose address is never the customer's.
HEADER_ORDER = ("from", "subject", "date")

_K = RegionKind

# --- quoted, forwarded and signature boundaries (line patterns) ------------------------------

_QUOTE_LINE = re.compile(r"^[ \t]*>")
_ATTRIBUTION = re.compile(
    r"^[ \t]*(?:on\s.{1,200}\bwrote\s*:|le\s.{1,200}a\s+écrit\s*:|am\s.{1,200}schrieb.{0,80}:"
    r"|el\s.{1,200}escribió\s*:|il\s.{1,200}ha\s+scritto\s*:|em\s.{1,200}escreveu\s*:"
    r"|op\s.{1,200}schreef.{0,80}:)[ \t]*$",
    re.IGNORECASE,
)
_ATTRIBUTION_OPENERS = ("on ", "le ", "am ", "el ", "il ", "em ", "op ")
_ORIGINAL_MESSAGE = re.compile(
    r"^[ \t]*-{2,}[ \t]*(?:original message|ursprüngliche nachricht|message d'origine"
    r"|mensaje original|messaggio originale|mensagem original|oorspronkelijk bericht)",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]*)?(?:forwarded message|begin forwarded message|weitergeleitete nachricht"
    r"|message transféré|mensaje reenviado|messaggio inoltrato|mensagem encaminhada"
    r"|doorgestuurd bericht)",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^[ \t]*(?:from|von|de|da|van)[ \t]*:[ \t]*\S", re.IGNORECASE)
_OUTLOOK_FOLLOWER = re.compile(
    r"^[ \t]*(?:sent|date|to|subject|gesendet|an|betreff|envoyé|à|objet|enviado|para|asunto"
    r"|inviato|a|oggetto|assunto|verzonden|aan|onderwerp)[ \t]*:",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"^(?:--[ \t]*|__+[ \t]*)$|^[ \t]*(?:sent from my\s|get outlook for\s|envoyé de mon\s"
    r"|von meinem\s.{1,40}gesendet|enviado desde mi\s|inviato da\s|enviado do meu\s"
    r"|verzonden vanaf\s|verstuurd vanaf\s)",
    re.IGNORECASE,
)

# --- suspect spans: text addressed to a model --------------------------------------------------

# A line opening with a role, as chat transcripts and prompt templates write them.
_ROLE_LINE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*(?:system|assistant|user|instructions?|response|input|output"
    r"|developer)\b"
    r"|[\[<(]?\|?[ \t]*(?:system|assistant|developer|user|human|instructions?|inst|sistema"
    r"|système|systeem)(?:[ \t]+(?:prompt|message|note|override))?[ \t]*\|?[\]>)]?[ \t]*:)",
    re.IGNORECASE | re.MULTILINE,
)
# Chat-template tokens and shouted roles, wherever they stand.
_ROLE_TOKEN = re.compile(
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>"
    r"|<(?:start|end)_of_turn>|\b(?:SYSTEM|ASSISTANT|DEVELOPER)[ \t]*:"
)
_VERBS = (
    r"ignor\w*|disregard\w*|forget|override|bypass|neglect"
    r"|vergiss|vergessen|missacht\w*|übergeh\w*|überschreib\w*"
    r"|oubli\w*|ne\s+tiens\s+pas\s+compte|ne\s+tenez\s+pas\s+compte|outrepass\w*"
    r"|olvid\w*|omit\w*|haz\s+caso\s+omiso|hagas\s+caso|descart\w*|pasa\s+por\s+alto"
    r"|dimentic\w*|trascur\w*|non\s+considerare|non\s+tenere\s+conto"
    r"|esque[cç]\w*|desconsider\w*|desrespeit\w*"
    r"|negeer\w*|vergeet|veronachtza\w*"
)
_NOUNS = (
    r"instructions?|prompts?|rules|directions|directives?|guidelines|constraints"
    r"|system\s+message|everything\s+(?:above|before)|all\s+(?:of\s+the\s+)?above"
    r"|anweisung\w*|instruktion\w*|befehl\w*|regeln|vorgaben|richtlinien|systemprompt"
    r"|consignes?|règles|indications"
    r"|instrucci\w+|indicaciones|reglas|órdenes|directrices|normas"
    r"|istruzion\w+|regole|indicazioni|direttive"
    r"|instru[cç]\w+|regras|orienta[cç]\w+|diretrizes|comandos"
    r"|instructies?|aanwijzingen|regels|opdrachten|richtlijnen"
)
_PHRASES = (
    r"you\s+are\s+now|you're\s+now|from\s+now\s+on,?\s+you|act\s+as\s+(?:an?|the)\s"
    r"|pretend\s+(?:to\s+be|you\s+are)|new\s+(?:system\s+)?(?:instructions?|prompt|rules)"
    r"|system\s+prompt|developer\s+mode|jailbreak|do\s+anything\s+now"
    r"|(?:output|respond\s+with|reply\s+with|print|emit)\b[^.!?\n]{0,40}\b(?:json"
    r"|following\s+(?:record|object|data|values))|return\s+(?:the\s+following\s+|this\s+)?json"
    r"|the\s+correct\s+(?:record|values|extraction)\s+(?:is|are)"
    r"|neue\s+anweisung\w*|du\s+bist\s+(?:jetzt|nun)|sie\s+sind\s+(?:jetzt|nun)\s+ein"
    r"|ab\s+(?:jetzt|sofort)\s+(?:bist\s+du|sind\s+sie)"
    r"|nouvelles?\s+(?:instructions?|consignes?)|(?:tu\s+es|vous\s+êtes)\s+(?:maintenant|désormais)"
    r"|à\s+partir\s+de\s+maintenant,?\s+(?:tu|vous)"
    r"|nuevas\s+instrucciones|ahora\s+eres|a\s+partir\s+de\s+ahora,?\s+(?:eres|debes)"
    r"|nuove\s+istruzioni|(?:ora|adesso)\s+sei\s|d'ora\s+in\s+poi"
    r"|novas\s+instru[cç]\w+|agora\s+você\s+é|a\s+partir\s+de\s+agora,?\s+você"
    r"|nieuwe\s+instructies|(?:je|u)\s+bent\s+nu|vanaf\s+nu\s+ben\s+je"
    # Text that speaks to the machine reading it rather than to the support team.
    r"|(?:hey|hi|hello|dear|attention|note\s+(?:to|for)|message\s+(?:to|for)|to)[ ,:]+"
    r"(?:the\s+)?(?:ai|assistant|model|llm|bot|extractor|parser|language\s+model)\b"
    r"|(?:ai|llm|language\s+model)\s+(?:assistant|model|system|extractor)"
    r"|when\s+(?:extracting|parsing|processing\s+this)|extraction\s+(?:system|tool|model|bot)"
    r"|(?:set|fill|put|change|record|report|output)\b[^.!?\n]{0,30}\b(?:fields?|json)\b"
    r"|(?:an\s+die|à\s+l'|a\s+la|al|all'|ao|à|aan\s+de)\s*(?:ki|ia|ai)\b"
    r"|(?:ki|ia|ai)[- ](?:assistent\w*|assistant\w*|asistente|assistente|system\w*|modell?\w*)"
    r"|(?:an\s+den|à\s+l'|al|all'|ao|aan\s+de)\s*(?:assistenten|assistant|asistente|assistente)\b"
)
_INJECTION = re.compile(
    rf"\b(?:{_VERBS})\b[^.!?]{{0,60}}?\b(?:{_NOUNS})\b|\b(?:{_PHRASES})",
    re.IGNORECASE,
)
# `order_id: 66666`, `"customer_email": ...`: a field name the way a schema writes it.
_SCHEMA_KEY_LINE = re.compile(
    r"^[ \t]*[\"']?[a-z][a-z0-9]*(?:_[a-z0-9]+)+[\"']?[ \t]*[:=]", re.IGNORECASE | re.MULTILINE
)
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
_JSON_KEY = re.compile(r"[\"'][A-Za-z_][\w ]{0,60}[\"'][ \t]*:")


@dataclass(frozen=True)
class SourceView:
    """The source view and its regions (a partition of ``text``, in order)."""

    text: str
    regions: tuple[Region, ...]
    # The headers as rendered ({"from": ..., "subject": ..., "date": ...}), for field rules
    # that compare with them.
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        text: str,
        *,
        headers: Mapping[str, object] | None = None,
        kind: SourceKind = "email",
        attachments: Sequence[tuple[str, str]] = (),
    ) -> SourceView:
        """``attachments``: (file name, text) of each file attached to the message; each is
        rendered after the body under an ``[Attachment: name]`` line, as one attachment
        region (suspect spans inside it are still marked)."""
        shown = headers if kind == "email" else None
        message, header_end = _render(text, shown)
        labels = _base_labels(message, header_end)
        view = message
        for name, attached in attachments:
            part = f"\n\n[Attachment: {' '.join(name.split())}]\n"
            part += normalise_newlines(attached).strip("\n")
            view += part
            labels.extend([_K.ATTACHMENT] * len(part))
        for start, end in _merged(_suspect_spans(view, labels, header_end)):
            labels[start:end] = [_K.SUSPECT] * (end - start)
        return cls(text=view, regions=tuple(_runs(view, labels)),
                   headers=tuple(_rendered_headers(shown)))

    @cached_property
    def languages(self) -> tuple[str, ...]:
        """The languages dates are read in: the sender's own, then English."""
        own = " ".join(r.text for r in self.regions if r.kind in (_K.AUTHOR, _K.HEADER))
        return reading_languages(own)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)

    def kind_at(self, start: int, end: int) -> frozenset[RegionKind]:
        """The region kinds that ``text[start:end]`` touches."""
        return frozenset(
            region.kind for region in self.regions if region.start < end and start < region.end
        )

    def within(self, kinds: frozenset[RegionKind]) -> Iterator[Region]:
        return (region for region in self.regions if region.kind in kinds)


def source_view(text: str, *, headers: Mapping[str, object] | None = None) -> str:
    """The normalised text every region offset indexes into."""
    return _render(text, headers)[0]


def split_regions(
    text: str, *, headers: Mapping[str, object] | None = None, kind: SourceKind = "email"
) -> list[Region]:
    return list(SourceView.of(text, headers=headers, kind=kind).regions)


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")


def _rendered_headers(headers: Mapping[str, object] | None) -> Iterator[tuple[str, str]]:
    """(name, value) of the headers the view shows, in its order, values on one line."""
    lowered = {str(key).lower(): value for key, value in (headers or {}).items()}
    for name in HEADER_ORDER:
        value = lowered.get(name)
        if value is not None and str(value).strip():
            yield name, " ".join(normalise_newlines(str(value)).split())


def _render(text: str, headers: Mapping[str, object] | None) -> tuple[str, int]:
    """The view and where its header block ends (0 without headers)."""
    body = normalise_newlines(text).strip("\n")
    lines = [f"{name.capitalize()}: {value}" for name, value in _rendered_headers(headers)]
    if not lines:
        return body, 0
    header = "\n".join(lines) + "\n\n"
    return header + body, len(header)


def _lines(text: str, offset: int = 0) -> Iterator[tuple[int, int, str]]:
    """(start, end including the newline, line without it) of each line."""
    position = offset
    for line in text[offset:].splitlines(keepends=True):
        yield position, position + len(line), line.rstrip("\n")
        position += len(line)


def _base_labels(view: str, header_end: int) -> list[RegionKind]:
    """Header, author, quoted, forwarded or signature for every character of the view."""
    labels: list[RegionKind] = [_K.HEADER] * header_end
    lines = list(_lines(view, header_end))
    mode = _K.AUTHOR
    for index, (start, end, line) in enumerate(lines):
        if mode in (_K.AUTHOR, _K.SIGNATURE):
            if _FORWARDED.match(line):
                mode = _K.FORWARDED
            elif _quote_starts(lines, index):
                mode = _K.QUOTED
            elif _SIGNATURE.match(line):
                mode = _K.SIGNATURE
        kind = _K.QUOTED if mode is _K.AUTHOR and _QUOTE_LINE.match(line) else mode
        labels.extend([kind] * (end - start))
    return labels


def _quote_starts(lines: list[tuple[int, int, str]], index: int) -> bool:
    """An original-message divider, an attribution or an Outlook header block."""
    line = lines[index][2]
    if _ORIGINAL_MESSAGE.match(line) or _attribution(lines, index):
        return True
    return bool(_OUTLOOK_FROM.match(line)) and any(
        _OUTLOOK_FOLLOWER.match(follower) for _, _, follower in lines[index + 1 : index + 4]
    )


def _attribution(lines: list[tuple[int, int, str]], index: int) -> bool:
    line = lines[index][2]
    if _ATTRIBUTION.match(line):
        return True
    # Clients wrap a long attribution over two lines.
    return (
        index + 1 < len(lines)
        and line.lower().lstrip().startswith(_ATTRIBUTION_OPENERS)
        and bool(_ATTRIBUTION.match(f"{line} {lines[index + 1][2]}"))
    )


def _suspect_spans(
    view: str, labels: list[RegionKind], header_end: int
) -> Iterator[tuple[int, int]]:
    """Spans addressed to a model. An instruction taints the rest of its block: whatever an
    attacker writes after "ignore previous instructions" is part of the attack."""
    block_ends = _block_ends(labels)
    for pattern in (_ROLE_LINE, _ROLE_TOKEN, _INJECTION):
        for match in pattern.finditer(view):
            start = match.start()
            if start < header_end:
                yield start, _line_end(view, start)
            else:
                yield start, block_ends[start]
    for match in _SCHEMA_KEY_LINE.finditer(view):
        yield match.start(), _line_end(view, match.start())
    yield from _fenced_blocks(view)
    yield from _json_objects(view)


def _line_end(view: str, position: int) -> int:
    end = view.find("\n", position)
    return len(view) if end < 0 else end


def _block_ends(labels: list[RegionKind]) -> list[int]:
    """For each position, where its run of one region kind ends (one backward pass)."""
    ends = [len(labels)] * len(labels)
    for position in range(len(labels) - 2, -1, -1):
        if labels[position] is labels[position + 1]:
            ends[position] = ends[position + 1]
        else:
            ends[position] = position + 1
    return ends


def _merged(spans: Iterator[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """Overlapping spans as one, so each character is relabelled once."""
    current: tuple[int, int] | None = None
    for start, end in sorted(spans):
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def _fenced_blocks(view: str) -> Iterator[tuple[int, int]]:
    fences = [match.start() for match in _FENCE.finditer(view)]
    for opening, closing in zip(fences[::2], [*fences[1::2], len(view)], strict=False):
        yield opening, _line_end(view, closing)


def _json_objects(view: str) -> Iterator[tuple[int, int]]:
    """Brace-balanced spans holding at least one ``"key":``; one pass over the text.

    String state is tracked only inside braces: prose quotation marks outside an object
    cannot hide one.
    """
    depth, start, in_string, escaped = 0, -1, False, False
    for position, char in enumerate(view):
        if depth and in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == "{":
            if depth == 0:
                start = position
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0 and _JSON_KEY.search(view, start, position):
                yield start, position + 1
        elif char == '"' and depth:
            in_string = True
    if depth and _JSON_KEY.search(view, start):
        yield start, len(view)  # an unclosed object runs to the end


def _runs(view: str, labels: list[RegionKind]) -> Iterator[Region]:
    start = 0
    for position in range(1, len(labels) + 1):
        if position == len(labels) or labels[position] is not labels[start]:
            yield Region(kind=labels[start], start=start, end=position, text=view[start:position])
            start = position
