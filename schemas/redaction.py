"""Redaction policies as operators write them: which personal data never reaches a model.

``SLUICE_REDACTION`` is a JSON object from a schema name or a job kind to the entity types
replaced by placeholders before an LLM call, e.g. ``{"support_ticket": ["email", "card",
"phone"], "ask": ["email"]}``. A schema's policy wins over its kind's. This module only
names the types; :mod:`libs.redaction` finds and replaces them.
"""

from __future__ import annotations

from enum import StrEnum


class PIIEntity(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    IBAN = "iban"  # checksum verified
    CARD = "card"  # payment card numbers, Luhn checksum verified
    ADDRESS = "address"  # street addresses: a number and a street word
    PERSON = "person"  # names an email's headers give (From, To, Cc display names)
