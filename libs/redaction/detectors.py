"""Finding personal data in text, with Presidio's pattern recognizers and no NLP model.

Presidio's analyzer engine wants a spaCy model (a download at run time); its pattern and
checksum recognizers do not, so they are called directly with no NLP artifacts:
emails, phone numbers (Google's ``phonenumbers``), IBANs (mod-97 checksum) and payment
cards (Luhn checksum). Two gaps are filled here, as Presidio recognizers too:
street addresses (a house number and a street word, English and German spellings) and
person names, which without an NER model are only found where an email's headers name
them (``From: Maria Lopez <maria@...>``), then wherever that name recurs.

Presidio's email recognizer then checks the domain against the public suffix list through
``tldextract``, which fetches the list from the internet on first use and drops addresses
under reserved names (``support@shop.example``). Here every address its pattern matches
counts: for redaction a false positive costs a placeholder, a false negative leaks an
address, and nothing is fetched.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.utils import getaddresses

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    PhoneRecognizer,
)

from schemas.redaction import PIIEntity

# Presidio scores phone matches 0.4 before context words; everything else scores higher.
MIN_SCORE = 0.3
_HEADER_LINE = re.compile(r"^(?:From|To|Cc|Reply-To):[ \t]*(.+)$", re.MULTILINE | re.IGNORECASE)
_STREET_WORDS = (
    r"Street|St\.|Avenue|Ave\.|Road|Rd\.|Boulevard|Blvd\.|Lane|Ln\.|Drive|Dr\.|Way|Court"
    r"|Ct\.|Place|Pl\.|Square|Terrace"
)
_ADDRESS_PATTERNS = [
    # 221B Baker Street, 1600 Pennsylvania Avenue
    Pattern("street_en", rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][\w'-]*\s+){{1,3}}(?:{_STREET_WORDS})",
            0.6),
    # Hauptstraße 5, Am Markt-Weg 12a
    Pattern("street_de", r"\b[A-ZÄÖÜ][\w-]*(?:straße|strasse|str\.|weg|platz|allee|gasse|ring)"
            r"\s+\d{1,4}[a-z]?\b", 0.6),
]


@dataclass(frozen=True)
class Finding:
    entity: PIIEntity
    start: int
    end: int
    text: str


class _AnyDomainEmailRecognizer(EmailRecognizer):
    def validate_result(self, pattern_text: str) -> bool:
        return True


@functools.cache
def _recognizer(entity: PIIEntity) -> EntityRecognizer:
    if entity is PIIEntity.EMAIL:
        return _AnyDomainEmailRecognizer()
    if entity is PIIEntity.PHONE:
        return PhoneRecognizer()
    if entity is PIIEntity.IBAN:
        return IbanRecognizer()
    if entity is PIIEntity.CARD:
        return CreditCardRecognizer()
    assert entity is PIIEntity.ADDRESS
    # Case matters here ("on its way" is no street): Presidio matches case-blind by default.
    return PatternRecognizer(
        supported_entity="STREET_ADDRESS", patterns=_ADDRESS_PATTERNS,
        global_regex_flags=re.DOTALL | re.MULTILINE,
    )


def _analyze(recognizer: EntityRecognizer, text: str) -> list[RecognizerResult]:
    # Pattern, checksum and phonenumbers recognizers read no NLP artifacts: there are none.
    return recognizer.analyze(text, recognizer.supported_entities, None)  # type: ignore[arg-type]


def warm(entities: frozenset[PIIEntity]) -> None:
    """Build the recognizers now (the phone one compiles its regions' metadata)."""
    for entity in entities - {PIIEntity.PERSON}:
        _analyze(_recognizer(entity), "warm-up +1 415 555 0182")


def header_names(text: str) -> list[str]:
    """The display names an email's From, To, Cc and Reply-To lines give."""
    names = []
    for line in _HEADER_LINE.findall(text):
        for name, _address in getaddresses([line]):
            name = name.strip().strip('"').strip()
            if len(name) >= 3 and any(ch.isalpha() for ch in name) and "@" not in name:
                names.append(name)
    return list(dict.fromkeys(names))


def find(text: str, entities: frozenset[PIIEntity], names: list[str]) -> list[Finding]:
    """Every finding of ``entities`` in ``text``; ``names`` are the person names known so
    far (header names), found wherever they occur."""
    found: list[Finding] = []
    for entity in sorted(entities - {PIIEntity.PERSON}):
        for result in _analyze(_recognizer(entity), text):
            if result.score >= MIN_SCORE:
                found.append(Finding(entity, result.start, result.end,
                                     text[result.start:result.end]))
    if PIIEntity.PERSON in entities:
        for name in names:
            for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
                found.append(Finding(PIIEntity.PERSON, match.start(), match.end(), name))
    return found
