"""PII redaction before the model: a policy per schema or kind, Presidio's recognizers, and
stable placeholders restored in the accepted record (:mod:`libs.redaction.redactor`).

Needs the ``redaction`` extra (``pip install 'sluice[redaction]'``: presidio-analyzer,
no NLP model). :func:`policy_for` is cheap and imports nothing heavy; :func:`redactor_for`
imports Presidio only when a policy applies.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from schemas.redaction import PIIEntity

if TYPE_CHECKING:
    from libs.redaction.redactor import Redactor
    from sluice.settings import Settings

INSTALL_HINT = "pip install 'sluice[redaction]'"


class RedactionUnavailable(RuntimeError):
    """A policy applies but presidio-analyzer is not installed on this worker."""


def policy_for(settings: Settings, *, schema_name: str | None, kind: str) -> frozenset[PIIEntity]:
    """The entity types to redact for a call: the schema's policy, else the kind's."""
    if schema_name is not None and schema_name in settings.redaction:
        return frozenset(settings.redaction[schema_name])
    return frozenset(settings.redaction.get(kind, ()))


def redactor_for(
    settings: Settings, *, schema_name: str | None, kind: str
) -> Redactor | None:
    """A fresh redactor for one job, or None when no policy applies."""
    entities = policy_for(settings, schema_name=schema_name, kind=kind)
    if not entities:
        return None
    if importlib.util.find_spec("presidio_analyzer") is None:
        raise RedactionUnavailable(
            f"a redaction policy applies to {schema_name or kind}, but presidio-analyzer is "
            f"not installed: {INSTALL_HINT}"
        )
    from libs.redaction.redactor import Redactor

    return Redactor(entities)


def preload(settings: Settings) -> None:
    """Import Presidio and build the recognizers the policies name, before any job runs.

    Importing Presidio imports spaCy, and spaCy's thinc imports torch when it is installed:
    seconds to tens of seconds that must not fall inside a job's time limit. A worker
    without the extra says so once; its jobs with a policy then go to the dead letters.
    """
    entities = frozenset(entity for types in settings.redaction.values() for entity in types)
    if not entities:
        return
    if importlib.util.find_spec("presidio_analyzer") is None:
        logging.getLogger("sluice.worker").warning(
            "SLUICE_REDACTION is set but presidio-analyzer is not installed: jobs it covers "
            "will be dead-lettered; %s", INSTALL_HINT,
        )
        return
    from libs.redaction.detectors import warm

    warm(entities)
