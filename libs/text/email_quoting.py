"""Quoted replies and signatures: cut for the LLM, kept in the stored original.

A support mail thread repeats every earlier message; sending all of it to extraction costs
tokens and invites the model to pick an order number out of last week's reply. What is cut:
lines quoted with ``>``, everything from an attribution line (``On ... wrote:``,
``-----Original Message-----``, an Outlook ``From:/Sent:`` header block) on, and everything
after a signature delimiter (``-- ``) or a mobile sign-off. If nothing would be left, the
text is returned unchanged: a message that is all quote is still a message.
"""

from __future__ import annotations

import re

ATTRIBUTION = re.compile(
    r"^\s*(On\s.{1,200}?\bwrote:|Le\s.{1,200}?a\s+écrit\s*:|Am\s.{1,200}?schrieb.{0,80}:)\s*$",
    re.IGNORECASE | re.DOTALL,
)
ORIGINAL_MESSAGE = re.compile(r"^\s*-{2,}\s*(Original Message|Forwarded by)\b.*$", re.IGNORECASE)
OUTLOOK_HEADER = re.compile(r"^\s*From:\s.+$", re.IGNORECASE)
OUTLOOK_FOLLOWERS = re.compile(r"^\s*(Sent|Date|To|Subject):\s", re.IGNORECASE)
SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
MOBILE_SIGNOFF = re.compile(r"^\s*(Sent from my \w+|Get Outlook for \w+)", re.IGNORECASE)


def _cut_index(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if SIGNATURE_DELIMITER.match(line) or MOBILE_SIGNOFF.match(line):
            return index
        if ORIGINAL_MESSAGE.match(line):
            return index
        # An attribution is often wrapped over two lines by the sender's client.
        if ATTRIBUTION.match(line) or (
            index + 1 < len(lines) and ATTRIBUTION.match(f"{line} {lines[index + 1]}")
            and line.lower().lstrip().startswith(("on ", "le ", "am "))
        ):
            return index
        if OUTLOOK_HEADER.match(line) and any(
            OUTLOOK_FOLLOWERS.match(follower) for follower in lines[index + 1 : index + 4]
        ):
            return index
    return len(lines)


def strip_quotes_and_signature(text: str) -> str:
    """The new part of a message: no quoted lines, attributions or signature."""
    lines = text.splitlines()
    kept = [line for line in lines[: _cut_index(lines)] if not line.lstrip().startswith(">")]
    stripped = "\n".join(kept).strip()
    return stripped or text.strip()
