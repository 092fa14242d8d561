"""The acceptance gate: a record is accepted only when every check on every field passed.

The worker runs the two stages as their inputs arrive: :func:`verify` on each schema-valid
attempt (a failure a correction can fix goes back to the model), then :func:`agree` on the
samples. :func:`decide` folds their checks into one :class:`AcceptanceVerdict`, writing
each verified value back in the source's own spelling. Ambiguity and disagreement are not
the model's to fix: they go to a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from libs.acceptance.fields import FieldRule
from libs.acceptance.regions import SourceView
from schemas.acceptance import AcceptanceVerdict, Check, CheckName

# What another attempt can fix: the model quoted badly, or took the value from the wrong place.
CORRECTABLE = frozenset({
    CheckName.EVIDENCE_NOT_FOUND, CheckName.EVIDENCE_MISMATCH,
    CheckName.REGION_NOT_ALLOWED, CheckName.NOT_GROUNDED,
})


def correctable(checks: Iterable[Check]) -> bool:
    """True when every failed check is one a corrected answer could pass."""
    failed = [check for check in checks if not check.ok]
    return bool(failed) and all(check.check in CORRECTABLE for check in failed)


def decide(
    model: type[BaseModel],
    record: Mapping[str, Any],
    evidence: Mapping[str, str],
    source: SourceView,
    checks: list[Check],
    rules: Mapping[str, FieldRule],
) -> AcceptanceVerdict:
    """The verdict on ``record`` given every check run on it."""
    spelled = dict(record)
    for check in checks:
        if check.ok and check.quote is not None and rules[check.field].evidence:
            spelled[check.field] = check.value
    accepted = all(check.ok for check in checks)
    final: dict[str, Any] = spelled
    if accepted:
        try:
            final = model.model_validate(spelled).model_dump(mode="json")
        except ValidationError as exc:  # the source's spelling broke a field rule
            accepted = False
            checks = [*checks, *(
                Check(field=".".join(map(str, error["loc"])), check=CheckName.EVIDENCE_MISMATCH,
                      ok=False, detail=f"as spelled in the source: {error['msg']}")
                for error in exc.errors()
            )]
    return AcceptanceVerdict(
        accepted=accepted, record=final, checks=checks, regions=list(source.regions),
        evidence={key: value for key, value in evidence.items() if isinstance(value, str)},
        source=source.text,
    )
