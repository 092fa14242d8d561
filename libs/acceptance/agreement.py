"""Agreement: what no quote can settle (an enum label, a summary) is accepted when k samples agree.

Self-consistency, the quorum read: the worker draws k independent samples at a temperature
above zero (the first attempt counts as one) and a field passes only if every sample gives the
same value. Labels compare exactly (case aside), free text by similarity (two samples never
word a summary identically), lists and objects by their canonical JSON. A sample that gave
no usable record counts against agreement: an abstention is not a vote for the majority.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

from libs.acceptance.fields import FieldRule
from schemas.acceptance import Check, CheckName

FREE_TEXT_SIMILARITY = 0.8
_MISSING = object()


def samples_needed(rules: Mapping[str, FieldRule]) -> int:
    """How many samples in all (the first attempt included) the strictest field asks for."""
    return max((rule.agree for rule in rules.values()), default=1)


def agree(
    samples: Sequence[Mapping[str, Any] | None], rules: Mapping[str, FieldRule]
) -> list[Check]:
    checks = []
    for name, rule in rules.items():
        if rule.agree <= 1:
            continue
        values = [_MISSING if s is None else s.get(name, _MISSING) for s in samples[: rule.agree]]
        given = [value for value in values if value is not _MISSING]
        if len(given) < rule.agree:
            checks.append(Check(
                field=name, check=CheckName.DISAGREEMENT, ok=False,
                detail=f"only {len(given)} of {rule.agree} samples gave a value",
                value=given,
            ))
        elif all(_same(given[0], other, rule) for other in given[1:]):
            checks.append(Check(
                field=name, check=CheckName.VERIFIED, ok=True,
                detail=f"{rule.agree} samples agree", value=given[0],
            ))
        else:
            shown = ", ".join(_cut(json.dumps(value, default=str)) for value in given)
            checks.append(Check(
                field=name, check=CheckName.DISAGREEMENT, ok=False,
                detail=f"{rule.agree} samples disagree: {shown}", value=given,
            ))
    return checks


def _same(first: Any, other: Any, rule: FieldRule) -> bool:
    if isinstance(first, str) and isinstance(other, str):
        a, b = " ".join(first.casefold().split()), " ".join(other.casefold().split())
        if rule.kind == "free_text":
            return a == b or SequenceMatcher(None, a, b).ratio() >= FREE_TEXT_SIMILARITY
        return a == b
    return _canonical(first) == _canonical(other)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _cut(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
