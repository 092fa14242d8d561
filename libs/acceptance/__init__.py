"""The acceptance gate: no wrong record is delivered as ``succeeded``.

Schema validity is not truth. :mod:`.regions` splits a source into whose words are whose,
:mod:`.fields` reads what each field demands from its pydantic model, :mod:`.evidence`
verifies the model's verbatim quotes, :mod:`.agreement` settles labels by k samples, and
:mod:`.gate` folds the checks into one verdict.
"""

from libs.acceptance.agreement import agree, samples_needed
from libs.acceptance.evidence import verify
from libs.acceptance.fields import FieldRule, acceptance, field_rules
from libs.acceptance.gate import correctable, decide
from libs.acceptance.regions import SourceView, source_view, split_regions
from schemas.acceptance import AcceptanceVerdict, Check, CheckName, Region, RegionKind

__all__ = [
    "AcceptanceVerdict", "Check", "CheckName", "FieldRule", "Region", "RegionKind",
    "SourceView", "acceptance", "agree", "correctable", "decide", "field_rules",
    "samples_needed", "source_view", "split_regions", "verify",
]
