"""Grounding an enum label in the source through the cue words its schema declares.

Agreement alone cannot catch a model that is consistently wrong (a small model that always
answers the first enum value agrees with itself). Where a schema declares cues per label
(``acceptance(cues={"refund_request": ["refund", "money back", ...]}, fallback=...)``), a
label is grounded only when one of its cues occurs in the field's allowed regions. The
catch-all ``fallback`` label needs none (a question that names a delivery is still a
question): agreement settles it, unless one of another label's ``strong_cues`` occurs
("it arrived broken" is never a general inquiry). A cue matches at the start of a word,
case aside, so ``rembours`` covers "remboursement" and "remboursez".
"""

from __future__ import annotations

import re
from functools import lru_cache

from libs.acceptance.fields import FieldRule
from libs.acceptance.regions import SourceView
from schemas.acceptance import Check, CheckName


def label_check(name: str, label: str, rule: FieldRule, source: SourceView) -> Check:
    if label == rule.fallback:
        # "A question about my delivery" is a general inquiry that names a delivery: a
        # catch-all is settled by agreement, unless the sender's words say plainly that it is
        # something else ("it arrived broken": a strong cue of another label).
        for other, words in rule.strong_cues:
            found = _first_match(words, rule, source)
            if found is not None:
                return Check(field=name, check=CheckName.NOT_GROUNDED, ok=False, value=label,
                             detail=f"the sender's words say {other}: {found[0]!r}",
                             quote=found[0], span=found[1])
        return Check(field=name, check=CheckName.VERIFIED, ok=True, value=label,
                     detail="the catch-all label: settled by agreement")
    found = _first_cue(rule, label, source)
    if found is None:
        return Check(field=name, check=CheckName.NOT_GROUNDED, ok=False, value=label,
                     detail=f"nothing in the sender's words indicates {label}")
    cue, span = found
    return Check(field=name, check=CheckName.VERIFIED, ok=True, value=label,
                 detail=f"cue {cue!r}", quote=cue, span=span)


def _first_cue(
    rule: FieldRule, label: str, source: SourceView
) -> tuple[str, tuple[int, int]] | None:
    return _first_match(rule.cues_of(label), rule, source)


def _first_match(
    words: tuple[str, ...], rule: FieldRule, source: SourceView
) -> tuple[str, tuple[int, int]] | None:
    if not words:
        return None
    pattern = cue_pattern(words)
    for region in source.within(rule.regions):
        match = pattern.search(region.text)
        if match:
            start = region.start + match.start()
            return match.group(0), (start, start + len(match.group(0)))
    return None


@lru_cache(maxsize=256)
def cue_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """Any of ``words`` at the start of a word (matched to the word's end), case aside,
    spaces inside a cue flexible."""
    alternatives = "|".join(
        r"\s+".join(re.escape(part) for part in word.split()) for word in words
    )
    return re.compile(rf"(?<!\w)(?:{alternatives})\w*", re.IGNORECASE)
